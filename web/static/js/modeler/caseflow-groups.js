// More of Caseflow's properties-panel groups: scripts and flow conditions (checked against the script
// sandbox by the server as you type, debounced; nothing is evaluated in the browser), timers (the
// expression with help and the deadline keys it may read), call activities (pick the called process)
// and lanes (map to a role, or declare a new one).
import { h } from '@bpmn-io/properties-panel/preact';
import { useEffect, useState } from '@bpmn-io/properties-panel/preact/hooks';
import { SelectEntry, TextAreaEntry, TextFieldEntry, isSelectEntryEdited, isTextAreaEntryEdited,
  isTextFieldEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

const CHECK_DELAY_MS = 400;
const TIMER_KINDS = ['timeDate', 'timeDuration', 'timeCycle'];

// --- the server's sandbox check ---------------------------------------------------------------------

/** POST the source to the server's check; resolves to the list of problems ([] when it passes). */
async function serverCheck(settings, source, mode) {
  const response = await fetch(settings.scriptCheckUrl, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': settings.csrfToken },
    body: JSON.stringify({ source, mode }),
  });
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    const fields = (payload && payload.error && payload.error.fields) || {};
    return Object.values(fields).length ? Object.values(fields) : [response.statusText];
  }
  return payload.problems;
}

/** The server's verdict on ``source``, re-checked (debounced) whenever it changes. */
function CheckResult(props) {
  const { source, mode, settings, id } = props;
  const translate = useService('translate');
  const [state, setState] = useState({ checking: false, problems: [] });
  useEffect(() => {
    if (!source || !source.trim() || !settings.scriptCheckUrl) {
      setState({ checking: false, problems: [] });
      return undefined;
    }
    let current = true;
    setState(s => ({ ...s, checking: true }));
    const timer = setTimeout(() => {
      serverCheck(settings, source, mode)
        .then(problems => { if (current) setState({ checking: false, problems }); })
        .catch(err => { if (current) setState({ checking: false, problems: [err.message] }); });
    }, CHECK_DELAY_MS);
    return () => { current = false; clearTimeout(timer); };
  }, [source, mode]);
  const kind = state.checking ? 'checking' : state.problems.length ? 'problems' : 'ok';
  const text = state.checking ? translate('Checking…')
    : state.problems.length ? state.problems.join('\n') : translate('The sandbox accepts it.');
  return h('div', { class: 'bio-properties-panel-entry caseflow-check', 'data-entry-id': id, 'data-check': kind },
    h('div', { class: state.problems.length ? 'bio-properties-panel-error' : 'bio-properties-panel-description' },
      text));
}

// --- scripts and conditions -------------------------------------------------------------------------

function ScriptEntry(props) {
  const { element } = props;
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const modeling = useService('modeling');
  const bo = getBusinessObject(element);
  return h(TextAreaEntry, {
    element, id: 'caseflow-script', label: translate('Script (Python, run in the sandbox)'), debounce, monospace: true,
    rows: 8, getValue: () => bo.get('script') || '',
    setValue: value => modeling.updateProperties(element, { scriptFormat: bo.get('scriptFormat') || 'python',
      script: value }),
  });
}

function ScriptCheckEntry(props) {
  const bo = getBusinessObject(props.element);
  return h(CheckResult, { id: 'caseflow-script-check', source: bo.get('script') || '', mode: 'script',
    settings: props.settings });
}

function conditionOf(bo) {
  return bo.get('conditionExpression');
}

function ConditionEntry(props) {
  const { element } = props;
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const bo = getBusinessObject(element);
  const setValue = value => {
    if (!value) {
      modeling.updateProperties(element, { conditionExpression: undefined });
      return;
    }
    const existing = conditionOf(bo);
    if (existing) {
      modeling.updateModdleProperties(element, existing, { body: value });
    } else {
      modeling.updateProperties(element, { conditionExpression: bpmnFactory.create('bpmn:FormalExpression',
        { body: value }) });
    }
  };
  return h(TextAreaEntry, {
    element, id: 'caseflow-condition', label: translate('Condition (an expression on the case data)'), debounce,
    monospace: true, rows: 3, getValue: () => (conditionOf(bo) || {}).body || '', setValue,
    description: translate('True: the case takes this flow, e.g. kpi_class == "major".'),
  });
}

function ConditionCheckEntry(props) {
  const condition = conditionOf(getBusinessObject(props.element));
  return h(CheckResult, { id: 'caseflow-condition-check', source: (condition && condition.body) || '',
    mode: 'expression', settings: props.settings });
}

// --- timers -----------------------------------------------------------------------------------------

function timerOf(element) {
  const bo = getBusinessObject(element);
  return (bo.get('eventDefinitions') || []).find(d => is(d, 'bpmn:TimerEventDefinition'));
}

function timerKind(timer) {
  return TIMER_KINDS.find(kind => timer.get(kind)) || '';
}

function TimerKindEntry(props) {
  const { element } = props;
  const translate = useService('translate');
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const timer = timerOf(element);
  const getOptions = () => [
    { value: '', label: translate('(choose)') },
    { value: 'timeDate', label: translate('Date: when it fires (a date-time value)') },
    { value: 'timeDuration', label: translate('Duration: how long after it starts waiting') },
    { value: 'timeCycle', label: translate('Cycle: repeats') },
  ];
  const setValue = kind => {
    const old = timerKind(timer);
    const body = old ? timer.get(old).body : '';
    const changes = Object.fromEntries(TIMER_KINDS.map(k => [k, undefined]));
    if (kind) changes[kind] = bpmnFactory.create('bpmn:FormalExpression', { body });
    modeling.updateModdleProperties(element, timer, changes);
  };
  return h(SelectEntry, { element, id: 'caseflow-timer-kind', label: translate('Timer type'), getOptions,
    getValue: () => timerKind(timer), setValue });
}

function TimerExpressionEntry(props) {
  const { element, deadlineKeys } = props;
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const modeling = useService('modeling');
  const timer = timerOf(element);
  const kind = timerKind(timer);
  if (!kind) return null;
  const keys = deadlineKeys.length ? deadlineKeys.join(', ') : translate('(the manifest declares none)');
  return h(TextAreaEntry, {
    element, id: 'caseflow-timer-expression', label: translate('Expression'), debounce, monospace: true, rows: 2,
    getValue: () => timer.get(kind).body || '',
    setValue: value => modeling.updateModdleProperties(element, timer.get(kind), { body: value }),
    description: translate('An expression on the case data: a date-time such as react_by, an ISO 8601 duration '
      + 'such as "P3D" or "PT12H", or a cycle such as "R3/PT1H". Deadline keys it may read:') + ' ' + keys,
  });
}

function TimerCheckEntry(props) {
  const timer = timerOf(props.element);
  const kind = timerKind(timer);
  return h(CheckResult, { id: 'caseflow-timer-check', source: kind ? timer.get(kind).body || '' : '',
    mode: 'expression', settings: props.settings });
}

// --- call activities and lanes -----------------------------------------------------------------------

function CalledProcessEntry(props) {
  const { element, processes } = props;
  const translate = useService('translate');
  const modeling = useService('modeling');
  const bo = getBusinessObject(element);
  const getOptions = () => {
    const current = bo.get('calledElement') || '';
    const options = [{ value: '', label: translate('(choose a process)') }];
    for (const key of processes) options.push({ value: key, label: key });
    if (current && !processes.includes(current)) {
      options.push({ value: current, label: current + ' — ' + translate('neither deployed nor in the bundle') });
    }
    return options;
  };
  return h(SelectEntry, { element, id: 'caseflow-called', label: translate('Called process'), getOptions,
    getValue: () => bo.get('calledElement') || '',
    setValue: value => modeling.updateProperties(element, { calledElement: value || undefined }),
    description: translate('A deployed process or one of this bundle; its latest version runs.') });
}

const NEW_ROLE = '__new__';

function LaneRoleEntry(props) {
  const { element, roles } = props;
  const translate = useService('translate');
  const modeling = useService('modeling');
  const bo = getBusinessObject(element);
  const current = bo.get('name') || '';
  const getOptions = () => {
    const options = [{ value: '', label: translate('(choose a role)') }];
    for (const role of roles) options.push({ value: role, label: role });
    if (current && !roles.includes(current)) options.push({ value: current, label: current + ' — ' + translate('new role') });
    options.push({ value: NEW_ROLE, label: translate('A new role…') });
    return options;
  };
  const setValue = value => {
    if (value !== NEW_ROLE) modeling.updateProperties(element, { name: value || undefined });
  };
  return h(SelectEntry, { element, id: 'caseflow-lane-role', label: translate('Role of the tasks in this lane'),
    getOptions, getValue: () => current, setValue });
}

function NewRoleEntry(props) {
  const { element } = props;
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const modeling = useService('modeling');
  const bo = getBusinessObject(element);
  return h(TextFieldEntry, {
    element, id: 'caseflow-lane-new-role', label: translate('Or declare a new role (its key)'), debounce,
    getValue: () => bo.get('name') || '',
    setValue: value => modeling.updateProperties(element, { name: value || undefined }),
    validate: value => (!value || /^[a-z][a-z0-9_]{0,79}$/.test(value) ? null
      : translate('A role key: lower-case letters, digits and _, starting with a letter.')),
  });
}

// --- the groups ------------------------------------------------------------------------------------

/** The extra groups for ``element`` (none when Caseflow has nothing to add). */
export function caseflowGroups(element, settings, translate) {
  const groups = [];
  if (is(element, 'bpmn:ScriptTask')) {
    groups.push({ id: 'caseflow-script', label: translate('Caseflow script'), entries: [
      { id: 'caseflow-script', component: ScriptEntry, element, isEdited: isTextAreaEntryEdited },
      { id: 'caseflow-script-check', component: ScriptCheckEntry, element, settings },
    ] });
  }
  if (is(element, 'bpmn:SequenceFlow') && element.source && (is(element.source, 'bpmn:ExclusiveGateway')
      || is(element.source, 'bpmn:InclusiveGateway') || is(element.source, 'bpmn:Activity'))) {
    groups.push({ id: 'caseflow-condition', label: translate('Caseflow condition'), entries: [
      { id: 'caseflow-condition', component: ConditionEntry, element, isEdited: isTextAreaEntryEdited },
      { id: 'caseflow-condition-check', component: ConditionCheckEntry, element, settings },
    ] });
  }
  if (timerOf(element)) {
    groups.push({ id: 'caseflow-timer', label: translate('Caseflow timer'), entries: [
      { id: 'caseflow-timer-kind', component: TimerKindEntry, element, isEdited: isSelectEntryEdited },
      { id: 'caseflow-timer-expression', component: TimerExpressionEntry, element,
        deadlineKeys: settings.deadlineKeys || [], isEdited: isTextAreaEntryEdited },
      { id: 'caseflow-timer-check', component: TimerCheckEntry, element, settings },
    ] });
  }
  if (is(element, 'bpmn:CallActivity')) {
    groups.push({ id: 'caseflow-call', label: translate('Caseflow call'), entries: [
      { id: 'caseflow-called', component: CalledProcessEntry, element, processes: settings.processes || [],
        isEdited: isSelectEntryEdited },
    ] });
  }
  if (is(element, 'bpmn:Lane')) {
    groups.push({ id: 'caseflow-lane', label: translate('Caseflow role'), entries: [
      { id: 'caseflow-lane-role', component: LaneRoleEntry, element, roles: settings.roles || [],
        isEdited: isSelectEntryEdited },
      { id: 'caseflow-lane-new-role', component: NewRoleEntry, element, isEdited: isTextFieldEntryEdited },
    ] });
  }
  return groups;
}
