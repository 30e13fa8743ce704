// The modeler's Try panel: runs the saved draft on sample data on the server (POST /drafts/<id>/try,
// a sandbox that is thrown away) and draws the path taken on the canvas with bpmn-js markers.
// Nothing is evaluated in the browser: the start data and answers are JSON sent to the server.

const MARKERS = { path: 'cf-try-path', task: 'cf-try-task', error: 'cf-try-error' };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function show(value) {
  if (value === null || value === undefined) return '—';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * Wire the Try panel of the page to ``modeler``.
 * ``tools``: { text(key), request(method, url, body), save() -> draft, say(message, kind), select(id) }.
 */
export function setupTry(modeler, config, tools) {
  const panel = document.getElementById('modeler-try');
  const button = document.getElementById('modeler-try-run');
  if (!panel || !button) return;
  const dataInput = document.getElementById('modeler-try-data');
  const answersInput = document.getElementById('modeler-try-answers');
  const output = document.getElementById('modeler-try-result');
  const more = document.getElementById('modeler-try-default');
  const t = tools.text;
  const canvas = modeler.get('canvas');
  const registry = modeler.get('elementRegistry');
  let marked = [];

  function clearMarkers() {
    for (const [id, marker] of marked) {
      if (registry.get(id)) canvas.removeMarker(id, marker);
    }
    marked = [];
  }

  function mark(id, marker) {
    if (id && registry.get(id)) {
      canvas.addMarker(id, marker);
      marked.push([id, marker]);
    }
  }

  function draw(result) {
    clearMarkers();
    for (const id of [...result.path, ...result.flows]) mark(id, MARKERS.path);
    for (const task of result.tasks) if (task.answer === null) mark(task.element, MARKERS.task);
    if (result.error) mark(result.error.element, MARKERS.error);
  }

  function parse(input, fallback, name) {
    const raw = input.value.trim();
    if (!raw) return fallback;
    try {
      return JSON.parse(raw);
    } catch (err) {
      const error = new Error(t('Not valid JSON:') + ' ' + name);
      error.fields = { [name]: err.message };
      throw error;
    }
  }

  function elementButton(id, label) {
    const node = el('button', { type: 'button', class: 'modeler-try-element', dataset: { element: id || '' } },
      label || id || '');
    node.addEventListener('click', () => tools.select(id));
    return node;
  }

  function render(result) {
    output.replaceChildren();
    const statusText = {
      completed: t('The case would be completed.'), needs_answer: t('The case waits for the answer of a task.'),
      waiting: t('The case waits for a timer or message.'), error: t('The case would stop with an error.'),
    }[result.status] || result.status;
    output.append(el('p', { class: 'try-status', 'data-testid': 'modeler-try-status', dataset: { status: result.status } },
      statusText + ' (' + result.steps + ' ' + t('steps') + ')'));
    if (result.error) {
      output.append(el('p', { class: 'try-error', 'data-testid': 'modeler-try-error' },
        elementButton(result.error.element, result.error.element || ''), ' ', result.error.message));
    }
    const path = el('ol', { class: 'try-path', 'data-testid': 'modeler-try-path' });
    for (const id of result.path) {
      const item = registry.get(id);
      path.append(el('li', {}, elementButton(id, (item && item.businessObject.name) || id)));
    }
    output.append(el('h4', {}, t('Path taken')), path);

    const outputs = el('table', { class: 'try-outputs', 'data-testid': 'modeler-try-outputs' });
    for (const out of result.outputs) {
      for (const [key, value] of Object.entries(out.values)) {
        outputs.append(el('tr', { dataset: { key } }, el('td', {}, elementButton(out.element, out.name || out.element)),
          el('th', {}, key), el('td', { class: 'try-value' }, show(value))));
      }
    }
    output.append(el('h4', {}, t('Outputs')), outputs);

    const tasks = el('ol', { class: 'try-tasks', 'data-testid': 'modeler-try-tasks' });
    for (const task of result.tasks) {
      const fields = el('ul', { class: 'try-fields' });
      const props = (task.schema && task.schema.properties) || {};
      const required = new Set((task.schema && task.schema.required) || []);
      for (const [name, prop] of Object.entries(props)) {
        const label = (config.locale.startsWith('zh') && (prop['x-title-zh'] || prop.titleZh)) || prop.title || name;
        fields.append(el('li', {}, label + (required.has(name) ? ' *' : '') + ' (' + name + ': '
          + (prop.enum ? prop.enum.join(' | ') : prop.type || '') + ')'));
      }
      const answered = task.answer === null ? t('not answered yet') : t('answered') + ': ' + show(task.answer);
      tasks.append(el('li', { dataset: { element: task.element } }, elementButton(task.element, task.title), ' · ',
        t('role') + ' ' + show(task.role) + ' · ' + t('form') + ' ' + show(task.form) + ' · ' + answered, fields));
    }
    output.append(el('h4', {}, t('Human tasks')), tasks);

    if (result.timers.length || result.events.length) {
      const waits = el('ul', { class: 'try-timers' });
      for (const timer of result.timers) waits.append(el('li', {}, timer.task + ': ' + timer.due_at));
      for (const event of result.events) waits.append(el('li', {}, event.kind + ' @ ' + show(event.element) + ': '
        + show(event.payload)));
      output.append(el('h4', {}, t('Timers and notices (nothing is sent)')), waits);
    }
    if (more) more.hidden = result.status !== 'needs_answer';
  }

  async function run() {
    let data;
    let answers;
    try {
      data = parse(dataInput, {}, 'data');
      answers = parse(answersInput, [], 'answers');
    } catch (err) {
      tools.say(err.message, 'error');
      return;
    }
    const draft = await tools.save();
    const result = await tools.request('POST', config.urls.try.replace('DRAFT_ID', draft.id),
      JSON.stringify({ data, answers }));
    render(result);
    draw(result);
    panel.dataset.tried = result.status;
    tools.say(t('Try finished: nothing was stored.'), result.status === 'error' ? 'error' : 'success');
  }

  button.addEventListener('click', () => tools.guarded(run));
  if (more) {
    more.addEventListener('click', () => tools.guarded(async () => {
      const answers = (() => { try { return JSON.parse(answersInput.value.trim() || '[]'); } catch (e) { return []; } })();
      answersInput.value = JSON.stringify([...(Array.isArray(answers) ? answers : []), 'default']);
      await run();
    }));
  }
  return { clear: clearMarkers };
}
