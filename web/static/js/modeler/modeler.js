// The process owner's modeler: bpmn-js Modeler + properties panel with Caseflow's groups; saves drafts,
// runs the server's Check (the deploy validation) and, for admins, deploys a draft.
// Bundled by build.mjs into web/static/vendor/modeler/modeler.js (no CDN).
import BpmnModeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import spiffworkflow from './spiffworkflow-moddle.json';
import CaseflowPropertiesProvider, { bindFormFile } from './caseflow-properties.js';
import { translator } from './translations.js';
import lintModule from 'bpmn-js-bpmnlint';
import lintConfig from './lint-config.js';
import { setupTry } from './try-panel.js';
import { setupDiff } from './diff-overlay.js';
import { setupForms } from './forms-editor.js';

const CaseflowModule = {
  __init__: ['caseflowPropertiesProvider'],
  caseflowPropertiesProvider: ['type', CaseflowPropertiesProvider],
};

function text(config, key) {
  return (config.texts && config.texts[key]) || key;
}

async function request(config, method, url, body, contentType) {
  const headers = { 'X-CSRFToken': config.csrfToken, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = contentType || 'application/json';
  const response = await fetch(url, { method, headers, body, credentials: 'same-origin' });
  let payload = null;
  try { payload = await response.json(); } catch (err) { payload = null; }
  if (!response.ok) {
    const error = new Error((payload && payload.error && payload.error.message) || response.statusText);
    error.status = response.status;
    error.payload = payload;
    throw error;
  }
  return payload;
}

function start() {
  const configNode = document.getElementById('modeler-config');
  if (!configNode) return;
  const config = JSON.parse(configNode.textContent);
  const status = document.getElementById('modeler-status');
  const problemsList = document.getElementById('modeler-problems');
  const draftLabel = document.getElementById('modeler-draft');
  const state = { draft: config.draft };
  const deployButton = document.getElementById('modeler-deploy'); // admins only (four eyes)

  const modeler = new BpmnModeler({
    container: '#modeler-canvas',
    propertiesPanel: { parent: '#modeler-properties' },
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CaseflowModule, lintModule,
      { translate: ['value', translator(config.locale)] }],
    // bpmnlint's recommended rules in the editor (its button at the bottom left turns them on and off)
    linting: { bpmnlint: lintConfig, active: false },
    moddleExtensions: { spiffworkflow },
    caseflow: { operators: config.operators, formFiles: config.formFiles, deadlineKeys: config.deadlineKeys,
      processes: config.processes, roles: config.roles, scriptCheckUrl: config.urls.scriptCheck,
      csrfToken: config.csrfToken },
  });
  window.caseflowModeler = modeler; // for the browser tests and the console

  const say = (message, kind) => {
    status.textContent = message;
    status.dataset.kind = kind || 'info';
  };
  const showDraft = () => {
    draftLabel.textContent = state.draft
      ? text(config, 'Draft') + ' #' + state.draft.id + ' · ' + state.draft.updated_by + ' · ' + state.draft.status
      : text(config, 'No draft yet');
    if (deployButton) deployButton.disabled = !state.draft || state.draft.status !== 'open';
    const zip = document.getElementById('modeler-zip');
    if (zip && state.draft) zip.href = config.urls.draftZip.replace('DRAFT_ID', state.draft.id);
  };

  function selectElement(id) {
    const element = id && modeler.get('elementRegistry').get(id);
    if (!element) return;
    modeler.get('selection').select(element);
    modeler.get('canvas').scrollToElement(element);
  }

  function showProblems(problems) {
    problemsList.replaceChildren();
    for (const problem of problems) {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'modeler-problem';
      button.dataset.element = problem.element || '';
      button.textContent = (problem.element ? '[' + problem.element + '] ' : '')
        + (problem.line ? problem.file + ':' + problem.line + ' ' : '') + problem.message;
      button.addEventListener('click', () => selectElement(problem.element));
      item.append(button);
      problemsList.append(item);
    }
  }

  async function save() {
    const { xml } = await modeler.saveXML({ format: true });
    const file = encodeURIComponent(config.bpmnFile);
    if (state.draft) {
      state.draft = await request(config, 'PUT', config.urls.draftFile.replace('DRAFT_ID', state.draft.id)
        .replace('FILE', file) + '?row_version=' + state.draft.row_version, xml, 'application/xml');
    } else {
      state.draft = await request(config, 'POST', config.urls.newDraft + '?version=' + config.baseVersion
        + '&file=' + file, xml, 'application/xml');
      history.replaceState(null, '', config.urls.page + '?draft=' + state.draft.id);
    }
    showDraft();
    return state.draft;
  }

  async function guarded(action) {
    try {
      await action();
    } catch (err) {
      say(err.message, 'error');
      const fields = err.payload && err.payload.error && err.payload.error.fields;
      if (fields && fields.problems) {
        showProblems(fields.problems);
      } else if (fields) { // bad input (start data, answers): each field with its message
        showProblems(Object.entries(fields).map(([field, message]) => ({ message: field + ': ' + message })));
      }
    }
  }

  document.getElementById('modeler-save').addEventListener('click', () => guarded(async () => {
    await save();
    say(text(config, 'Draft saved.'), 'success');
  }));
  document.getElementById('modeler-check').addEventListener('click', () => guarded(async () => {
    // The diagram as shown, with the draft's other files (or the version's): nothing is stored.
    const { xml } = await modeler.saveXML({ format: true });
    const where = state.draft ? '&draft=' + state.draft.id : '&version=' + config.baseVersion;
    const result = await request(config, 'POST', config.urls.check + '?file=' + encodeURIComponent(config.bpmnFile)
      + where, xml, 'application/xml');
    showProblems(result.problems);
    say(result.problems.length ? text(config, 'Check found problems.') : text(config, 'Check: no problems.'),
      result.problems.length ? 'error' : 'success');
  }));
  if (deployButton) deployButton.addEventListener('click', () => guarded(async () => {
    if (!state.draft) return;
    const url = config.urls.deploy.replace('DRAFT_ID', state.draft.id);
    let result;
    try {
      result = await request(config, 'POST', url);
    } catch (err) {
      // 409: the draft was made from an older version than the latest; deploying undoes the newer ones.
      if (err.status !== 409 || !state.draft.base_version
          || !window.confirm(text(config, 'Deploy over newer?'))) throw err;
      result = await request(config, 'POST', url + '?over_newer=1');
    }
    state.draft = result.draft;
    showDraft();
    showProblems([]);
    const ours = result.processes.find(p => p.key === config.key) || result.processes[0];
    say(text(config, 'Deployed as version') + ' ' + ours.version + ' (' + ours.status + ')', 'success');
  }));
  document.getElementById('modeler-download').addEventListener('click', () => guarded(async () => {
    const { xml } = await modeler.saveXML({ format: true });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([xml], { type: 'application/xml' }));
    link.download = config.bpmnFile;
    link.click();
    URL.revokeObjectURL(link.href);
  }));

  const tools = {
    text: key => text(config, key),
    request: (method, url, body) => request(config, method, url, body),
    save, say, guarded, select: selectElement,
  };
  tools.putFile = async (draft, name, body) => {
    state.draft = await request(config, 'PUT', config.urls.draftFile.replace('DRAFT_ID', draft.id)
      .replace('FILE', encodeURIComponent(name)) + '?row_version=' + draft.row_version, body, 'application/json');
    if (!config.formFiles.includes(name)) config.formFiles.push(name);
    showDraft();
    return state.draft;
  };
  tools.bindForm = (element, name) => {
    if (!config.formFiles.includes(name)) config.formFiles.push(name);
    bindFormFile(modeler, element, name);
  };
  setupTry(modeler, config, tools);
  setupDiff(modeler, config, tools);
  setupForms(modeler, config, tools);

  // A diagram the modeler cannot draw in full (no layout, or parts it does not read) would lose what
  // it could not draw when saved from here (e.g. every lane's tasks): saving and checking it are off.
  const notDrawable = (reason) => {
    for (const id of ['modeler-save', 'modeler-check', 'modeler-download']) {
      const button = document.getElementById(id);
      if (button) button.disabled = true;
    }
    document.body.dataset.modelerIncomplete = '1';
    say(reason + ' ' + text(config, 'Saving from the modeler is off, so nothing of it is lost: edit the file in a '
      + 'modeler that reads it and upload it on the Processes page.'), 'error');
  };
  showDraft();
  modeler.importXML(config.xml).then(({ warnings }) => {
    modeler.get('canvas').zoom('fit-viewport');
    const processes = modeler.getDefinitions().rootElements.filter(e => e.$type === 'bpmn:Process');
    const drawn = modeler.get('elementRegistry').filter(e => e.type !== 'bpmn:Process' && e.type !== 'label');
    const elements = processes.reduce((n, p) => n + (p.flowElements || []).length, 0);
    if (warnings.length) {
      notDrawable(warnings.length + ' ' + text(config, 'import warnings') + ': '
        + text(config, 'the diagram could not be drawn in full.'));
    } else if (elements && !drawn.length) {
      notDrawable(text(config, 'The diagram has no layout (BPMN DI) to draw.'));
    } else {
      say(text(config, 'Ready.'), 'info');
    }
    document.body.dataset.modelerReady = '1';
  }).catch(() => {
    notDrawable(text(config, 'The diagram cannot be drawn: it has no layout (BPMN DI) or parts the modeler cannot read.'));
    document.body.dataset.modelerReady = '1';
  });
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start);
} else {
  start();
}
