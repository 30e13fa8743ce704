// Draws a draft's changes against the version it was based on onto the canvas: added elements green,
// changed ones orange (with an overlay naming what changed), removed ones listed (they are not on
// the canvas any more). The diff comes from the server (GET /admin/drafts/<id>/diff).

const MARKERS = { added: 'cf-diff-added', changed: 'cf-diff-changed' };

export function setupDiff(modeler, config, tools) {
  const button = document.getElementById('modeler-diff');
  const list = document.getElementById('modeler-diff-list');
  if (!button || !list) return;
  const canvas = modeler.get('canvas');
  const registry = modeler.get('elementRegistry');
  const overlays = modeler.get('overlays');
  const t = tools.text;
  let marked = [];

  function clear() {
    for (const [id, marker] of marked) if (registry.get(id)) canvas.removeMarker(id, marker);
    marked = [];
    overlays.remove({ type: 'cf-diff' });
    list.replaceChildren();
    delete list.dataset.shown;
  }

  function item(kind, element, text) {
    const li = document.createElement('li');
    li.dataset.kind = kind;
    li.dataset.element = element.id;
    const pick = document.createElement('button');
    pick.type = 'button';
    pick.className = 'modeler-try-element';
    pick.textContent = t(kind) + ': ' + (element.name || element.id) + ' [' + element.id + ']';
    pick.addEventListener('click', () => tools.select(element.id));
    li.append(pick, text ? ' ' + text : '');
    return li;
  }

  async function show() {
    clear();
    const draft = await tools.save();
    const diff = await tools.request('GET', config.urls.diff.replace('DRAFT_ID', draft.id));
    for (const kind of ['added', 'changed']) {
      for (const element of diff.elements[kind]) {
        const changes = (element.changes || []).map(c => c.property + ': ' + c.old + ' → ' + c.new).join('; ');
        if (registry.get(element.id)) {
          canvas.addMarker(element.id, MARKERS[kind]);
          marked.push([element.id, MARKERS[kind]]);
          if (changes) {
            const badge = document.createElement('div');
            badge.className = 'cf-diff-badge';
            badge.textContent = changes;
            overlays.add(element.id, 'cf-diff', { position: { bottom: -4, left: 0 }, html: badge });
          }
        }
        list.append(item(kind, element, changes));
      }
    }
    for (const element of diff.elements.removed) list.append(item('removed', element, ''));
    list.dataset.shown = '1';
    tools.say(diff.identical ? t('No changes against the version it is based on.')
      : t('Changes drawn on the diagram.'), 'info');
  }

  button.addEventListener('click', () => tools.guarded(async () => {
    if (list.dataset.shown) clear(); else await show();
  }));
}
