// Caseflow's groups of the bpmn-js properties panel: the service-task operator with one typed field per
// declared parameter, and the user-task form file, Chinese name and instructions (zh/en).
// The extension elements are the `spiffworkflow:` ones of spiffworkflow-moddle.json.
import { h } from '@bpmn-io/properties-panel/preact';
import { SelectEntry, TextFieldEntry, TextAreaEntry, isSelectEntryEdited, isTextFieldEntryEdited,
  isTextAreaEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';
import { caseflowGroups } from './caseflow-groups.js';

// --- reading and writing the extension elements -------------------------------------------------------

function extensionValues(bo, type) {
  return ((bo.extensionElements && bo.extensionElements.values) || []).filter(v => v.$instanceOf(type));
}

export function operatorOf(bo) {
  return extensionValues(bo, 'spiffworkflow:ServiceTaskOperator')[0];
}

function parametersOf(operator) {
  return (operator && operator.parameters && operator.parameters.parameter) || [];
}

function propertyOf(bo, name) {
  for (const props of extensionValues(bo, 'spiffworkflow:Properties')) {
    const found = (props.property || []).find(p => p.name === name);
    if (found) return found;
  }
  return undefined;
}

function ensureExtensionElements(element, bo, bpmnFactory, modeling) {
  if (!bo.extensionElements) {
    const ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    modeling.updateModdleProperties(element, bo, { extensionElements: ext });
  }
  return bo.extensionElements;
}

function addExtension(element, bo, created, bpmnFactory, modeling) {
  const ext = ensureExtensionElements(element, bo, bpmnFactory, modeling);
  created.$parent = ext;
  modeling.updateModdleProperties(element, ext, { values: [...ext.get('values'), created] });
  return created;
}

function setOperatorName(element, name, services) {
  const { bpmnFactory, modeling } = services;
  const bo = getBusinessObject(element);
  const operator = operatorOf(bo);
  if (operator) {
    modeling.updateModdleProperties(element, operator, { id: name });
  } else {
    addExtension(element, bo, bpmnFactory.create('spiffworkflow:ServiceTaskOperator', { id: name }),
      bpmnFactory, modeling);
  }
}

function setParameter(element, param, literal, services) {
  const { bpmnFactory, modeling } = services;
  const operator = operatorOf(getBusinessObject(element));
  if (!operator) return;
  let parameters = operator.parameters;
  if (!parameters) {
    parameters = bpmnFactory.create('spiffworkflow:Parameters', { parameter: [] });
    parameters.$parent = operator;
    modeling.updateModdleProperties(element, operator, { parameters });
  }
  const list = parameters.get('parameter');
  const existing = list.find(p => p.id === param.name);
  if (literal === undefined || literal === '') { // empty: the operator's default applies
    if (existing) modeling.updateModdleProperties(element, parameters, { parameter: list.filter(p => p !== existing) });
    return;
  }
  if (existing) {
    modeling.updateModdleProperties(element, existing, { value: literal, type: param.type });
  } else {
    const created = bpmnFactory.create('spiffworkflow:Parameter', { id: param.name, type: param.type, value: literal });
    created.$parent = parameters;
    modeling.updateModdleProperties(element, parameters, { parameter: [...list, created] });
  }
}

function setProperty(element, name, value, services) {
  const { bpmnFactory, modeling } = services;
  const bo = getBusinessObject(element);
  const existing = propertyOf(bo, name);
  if (existing) {
    if (value) {
      modeling.updateModdleProperties(element, existing, { value });
    } else {
      const owner = existing.$parent;
      modeling.updateModdleProperties(element, owner, { property: owner.get('property').filter(p => p !== existing) });
    }
    return;
  }
  if (!value) return;
  let props = extensionValues(bo, 'spiffworkflow:Properties')[0];
  if (!props) {
    props = addExtension(element, bo, bpmnFactory.create('spiffworkflow:Properties', { property: [] }),
      bpmnFactory, modeling);
  }
  const created = bpmnFactory.create('spiffworkflow:Property', { name, value });
  created.$parent = props;
  modeling.updateModdleProperties(element, props, { property: [...props.get('property'), created] });
}

/** Bind the form file ``name`` to the user task ``element`` (its formJsonSchemaFilename property). */
export function bindFormFile(modeler, element, name) {
  setProperty(element, 'formJsonSchemaFilename', name,
    { bpmnFactory: modeler.get('bpmnFactory'), modeling: modeler.get('modeling') });
}

// --- parameter values: Python literals of the declared type -------------------------------------------

const STRING_LITERAL = /^'((?:[^'\\]|\\.)*)'$|^"((?:[^"\\]|\\.)*)"$/;

/** What the field shows for a stored literal: the text of a string, else the literal itself. */
export function shownValue(param, literal) {
  if (literal === undefined) return '';
  if (param.type === 'str') {
    const m = STRING_LITERAL.exec(literal);
    if (m) return (m[1] ?? m[2]).replace(/\\(.)/g, '$1');
  }
  return literal;
}

/** The literal stored for what was typed (strings are quoted). */
export function literalOf(param, shown) {
  if (shown === undefined || shown === '') return '';
  if (param.type === 'str') return "'" + shown.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
  if (param.type === 'bool') return /^true$/i.test(shown) ? 'True' : /^false$/i.test(shown) ? 'False' : shown;
  return shown.trim();
}

/** Why a typed value does not fit the parameter's type (null when it does). */
export function parameterProblem(param, shown, translate) {
  if (shown === undefined || shown === '') {
    return param.required ? translate('This parameter is required.') : null;
  }
  const text = shown.trim();
  switch (param.type) {
    case 'int':
      return /^[-+]?\d+$/.test(text) ? null : translate('Enter a whole number.');
    case 'float':
      return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? null : translate('Enter a number.');
    case 'bool':
      return /^(true|false)$/i.test(text) ? null : translate('Enter true or false.');
    case 'list':
      return /^\[[\s\S]*\]$/.test(text) ? null : translate('Enter a list, e.g. [\'a\', \'b\'].');
    case 'dict':
      return /^\{[\s\S]*\}$/.test(text) ? null : translate('Enter a mapping, e.g. {\'a\': 1}.');
    default:
      return null;
  }
}

function defaultText(param) {
  if (param.required) return '';
  const value = param.default;
  if (param.type === 'str' && typeof value === 'string') return value;
  if (param.type === 'bool') return value ? 'true' : 'false';
  return JSON.stringify(value);
}

// --- entries ------------------------------------------------------------------------------------------

function useServices() {
  return { bpmnFactory: useService('bpmnFactory'), modeling: useService('modeling') };
}

function OperatorEntry(props) {
  const { element, registry } = props;
  const translate = useService('translate');
  const services = useServices();
  const getValue = () => (operatorOf(getBusinessObject(element)) || {}).id || '';
  const getOptions = () => {
    const current = getValue();
    const options = [{ value: '', label: translate('(choose an operator)') }];
    for (const op of registry.operators) options.push({ value: op.name, label: op.name });
    if (current && !registry.byName[current]) {
      options.push({ value: current, label: current + ' — ' + translate('not in the registry') });
    }
    return options;
  };
  const op = registry.byName[getValue()];
  return h(SelectEntry, {
    element, id: 'caseflow-operator', label: translate('Operator'), getValue, getOptions,
    setValue: value => setOperatorName(element, value, services),
    description: op ? op.doc.split('\n')[0] : translate('The rule this task runs (see `caseflow operators`).'),
  });
}

function OperatorDocEntry(props) {
  const { element, registry } = props;
  const translate = useService('translate');
  const op = registry.byName[(operatorOf(getBusinessObject(element)) || {}).id || ''];
  if (!op) return null;
  return h('div', { class: 'bio-properties-panel-entry caseflow-operator-doc', 'data-entry-id': 'caseflow-operator-doc' },
    h('div', { class: 'bio-properties-panel-label' }, translate('What it does')),
    h('pre', { class: 'caseflow-doc' }, op.doc));
}

function ParameterEntry(props) {
  const { element, param, id } = props;
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const services = useServices();
  const getValue = () => {
    const stored = parametersOf(operatorOf(getBusinessObject(element))).find(p => p.id === param.name);
    return shownValue(param, stored && stored.value);
  };
  const fallback = defaultText(param);
  const description = (param.doc || '') + ' ' + (param.required ? translate('(required)')
    : translate('Default: %s').replace('%s', fallback));
  return h(TextFieldEntry, {
    element, id, debounce, description, getValue,
    label: param.name + ' (' + param.type + ')',
    setValue: value => setParameter(element, param, literalOf(param, value), services),
    validate: value => parameterProblem(param, value, translate),
  });
}

function PropertyEntry(props) {
  const { element, id, name, label, area, description } = props;
  const debounce = useService('debounceInput');
  const services = useServices();
  const getValue = () => (propertyOf(getBusinessObject(element), name) || {}).value || '';
  const setValue = value => setProperty(element, name, value, services);
  return h(area ? TextAreaEntry : TextFieldEntry, { element, id, label, description, debounce, getValue, setValue });
}

function FormFileEntry(props) {
  const { element, formFiles } = props;
  const translate = useService('translate');
  const services = useServices();
  const getValue = () => (propertyOf(getBusinessObject(element), 'formJsonSchemaFilename') || {}).value || '';
  const getOptions = () => {
    const options = [{ value: '', label: translate('(no form)') }];
    const current = getValue();
    for (const name of formFiles) options.push({ value: name, label: name });
    if (current && !formFiles.includes(current)) {
      options.push({ value: current, label: current + ' — ' + translate('missing in the bundle') });
    }
    return options;
  };
  return h(SelectEntry, {
    element, id: 'caseflow-form', label: translate('Form file'), getValue, getOptions,
    setValue: value => setProperty(element, 'formJsonSchemaFilename', value, services),
  });
}

function DocumentationEntry(props) {
  const { element, id, label } = props;
  const debounce = useService('debounceInput');
  const { bpmnFactory, modeling } = useServices();
  const bo = getBusinessObject(element);
  const getValue = () => ((bo.documentation || [])[0] || {}).text || '';
  const setValue = value => {
    const docs = bo.get('documentation');
    if (docs.length) {
      modeling.updateModdleProperties(element, docs[0], { text: value });
    } else if (value) {
      const doc = bpmnFactory.create('bpmn:Documentation', { text: value });
      doc.$parent = bo;
      modeling.updateModdleProperties(element, bo, { documentation: [doc] });
    }
  };
  return h(TextAreaEntry, { element, id, label, debounce, getValue, setValue });
}

// --- the provider -------------------------------------------------------------------------------------

function serviceTaskGroup(element, registry, translate) {
  const entries = [
    { id: 'caseflow-operator', component: OperatorEntry, element, registry, isEdited: isSelectEntryEdited },
    { id: 'caseflow-operator-doc', component: OperatorDocEntry, element, registry },
  ];
  const op = registry.byName[(operatorOf(getBusinessObject(element)) || {}).id || ''];
  for (const param of (op ? op.params : [])) {
    entries.push({ id: 'caseflow-param-' + param.name, component: ParameterEntry, element, param,
      isEdited: isTextFieldEntryEdited });
  }
  return { id: 'caseflow-service', label: translate('Caseflow operator'), entries };
}

function userTaskGroup(element, formFiles, translate) {
  const entries = [
    { id: 'caseflow-name-zh', component: PropertyEntry, element, name: 'nameZh', label: translate('Name (Chinese)'),
      isEdited: isTextFieldEntryEdited },
  ];
  if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask')) {
    entries.push({ id: 'caseflow-form', component: FormFileEntry, element, formFiles, isEdited: isSelectEntryEdited });
  }
  entries.push(
    { id: 'caseflow-doc-en', component: DocumentationEntry, element, label: translate('Instructions (English)'),
      isEdited: isTextAreaEntryEdited },
    { id: 'caseflow-doc-zh', component: PropertyEntry, element, name: 'documentationZh', area: true,
      label: translate('Instructions (Chinese)'), isEdited: isTextAreaEntryEdited },
  );
  return { id: 'caseflow-task', label: translate('Caseflow task'), entries };
}

export default function CaseflowPropertiesProvider(propertiesPanel, translate, config) {
  const operators = (config && config.operators) || [];
  const registry = { operators, byName: Object.fromEntries(operators.map(op => [op.name, op])) };
  const formFiles = (config && config.formFiles) || [];
  this.getGroups = function (element) {
    return function (groups) {
      if (is(element, 'bpmn:ServiceTask')) {
        groups.splice(1, 0, serviceTaskGroup(element, registry, translate));
      } else if (is(element, 'bpmn:Task') || is(element, 'bpmn:SubProcess') || is(element, 'bpmn:CallActivity')) {
        groups.splice(1, 0, userTaskGroup(element, formFiles, translate));
      }
      groups.splice(1, 0, ...caseflowGroups(element, config || {}, translate));
      return groups;
    };
  };
  propertiesPanel.registerProvider(500, this);
}

CaseflowPropertiesProvider.$inject = ['propertiesPanel', 'translate', 'config.caseflow'];
