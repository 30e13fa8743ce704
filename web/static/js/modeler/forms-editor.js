// The modeler's form editor: a bundle's JSON Schema form files edited as text, with a live preview
// rendered by the server with Caseflow's own form renderer (the widgets staff see) in English and
// Chinese side by side, and the schema's problems listed. New forms start from a starter and can be
// bound to the selected user task. Saving writes the file into the draft.

const PREVIEW_DELAY_MS = 400;

function starter(name) {
  const title = name.replace(/\.schema\.json$|\.json$/, '').replace(/[_-]+/g, ' ');
  return JSON.stringify({
    $schema: 'https://json-schema.org/draft/2020-12/schema', title, 'x-title-zh': title, type: 'object',
    properties: { notes: { type: 'string', title: 'Notes', 'x-title-zh': '备注', maxLength: 4000, 'x-widget': 'textarea' } },
    required: [], additionalProperties: false,
  }, null, 2) + '\n';
}

export function setupForms(modeler, config, tools) {
  const select = document.getElementById('modeler-form-file');
  const text = document.getElementById('modeler-form-text');
  if (!select || !text) return;
  const problems = document.getElementById('modeler-form-problems');
  const previews = { en: document.getElementById('modeler-form-preview-en'),
    zh: document.getElementById('modeler-form-preview-zh') };
  const forms = { ...(config.formTexts || {}) };
  const t = tools.text;
  let timer = null;
  let serial = 0;

  function fillSelect(current) {
    select.replaceChildren();
    for (const name of Object.keys(forms).sort()) {
      const option = document.createElement('option');
      option.value = name;
      option.textContent = name;
      select.append(option);
    }
    if (current) select.value = current;
  }

  function showProblems(list) {
    problems.replaceChildren(...list.map(message => {
      const li = document.createElement('li');
      li.textContent = message;
      return li;
    }));
    problems.dataset.count = String(list.length);
  }

  async function preview() {
    const mine = ++serial;
    let schema;
    try {
      schema = JSON.parse(text.value);
    } catch (err) {
      showProblems([t('Not valid JSON:') + ' ' + err.message]);
      return;
    }
    const result = await tools.request('POST', config.urls.formPreview, JSON.stringify({ schema }));
    if (mine !== serial) return; // a newer edit is on its way
    showProblems(result.problems);
    for (const lang of ['en', 'zh']) {
      // the server's own renderer: Jinja-escaped HTML of Caseflow's form widgets
      previews[lang].innerHTML = result.html[lang] || '';
      previews[lang].querySelectorAll('input, select, textarea, button').forEach(node => { node.disabled = true; });
    }
    select.closest('details').dataset.previewed = String(mine);
  }

  function schedule() {
    forms[select.value] = text.value;
    clearTimeout(timer);
    timer = setTimeout(() => tools.guarded(preview), PREVIEW_DELAY_MS);
  }

  function open(name) {
    select.value = name;
    text.value = forms[name] || '';
    schedule();
  }

  select.addEventListener('change', () => open(select.value));
  text.addEventListener('input', schedule);
  document.getElementById('modeler-form-create').addEventListener('click', () => tools.guarded(async () => {
    const input = document.getElementById('modeler-form-new');
    const name = input.value.trim();
    if (!/^[A-Za-z0-9_.-]+\.json$/.test(name) || name === 'manifest.json') {
      tools.say(t('A form file name ends in .json, e.g. step.schema.json.'), 'error');
      return;
    }
    if (!(name in forms)) forms[name] = starter(name);
    fillSelect(name);
    open(name);
    const selected = modeler.get('selection').get()[0];
    if (selected && (selected.type === 'bpmn:UserTask' || selected.type === 'bpmn:ManualTask')) {
      tools.bindForm(selected, name);
      tools.say(t('Form created and bound to the selected task.'), 'success');
    } else {
      tools.say(t('Form created; select a user task to bind it.'), 'info');
    }
  }));
  document.getElementById('modeler-form-save').addEventListener('click', () => tools.guarded(async () => {
    JSON.parse(text.value); // never save text that is not JSON
    const draft = await tools.save();
    await tools.putFile(draft, select.value, text.value);
    tools.say(t('Form saved to the draft.'), 'success');
  }));

  const names = Object.keys(forms).sort();
  fillSelect(names[0]);
  if (names.length) { select.value = names[0]; text.value = forms[names[0]]; }
  select.closest('details').addEventListener('toggle', () => { if (text.value) schedule(); }, { once: true });
}
