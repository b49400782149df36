// vdb web app: photo search and data management over the HTTP API (Docs/http-api.md).
// Plain JavaScript, no framework, no build step, nothing loaded from elsewhere.
'use strict';

const PAGE = 20;          // results per page
const THUMB = 256;        // thumbnail size asked of the server
const $ = (s) => document.querySelector(s);
const enc = encodeURIComponent;

const state = {
  key: sessionStorage.getItem('vdb.key') || '',
  info: null,
  collections: [],
  collection: localStorage.getItem('vdb.collection') || '',
  search: { hits: [], page: 0, label: '' },
  browse: { offsets: [null], page: 0, next: null, points: [], selected: new Set(), anchor: null },
  ingestTimer: null,
};

// ---------------------------------------------------------------- API

/** Point ids are 64-bit integers: read them as strings, JavaScript numbers cannot hold them all. */
function parseJSON(text) {
  return JSON.parse(text.replace(/"(id|next_page_offset)":(\d+)/g, '"$1":"$2"'));
}

class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body, { raw = false } = {}) {
  const headers = {};
  if (state.key) headers.Authorization = 'Bearer ' + state.key;
  let payload;
  if (body instanceof Blob) { payload = body; headers['Content-Type'] = body.type || 'application/octet-stream'; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
  const r = await fetch('/api/v1' + path, { method, headers, body: payload });
  if (r.ok && raw) return r;
  const text = await r.text();
  let data = null;
  try { data = text ? parseJSON(text) : null; } catch (_) { /* not JSON */ }
  if (!r.ok) {
    if (r.status === 401) askForKey();
    throw new APIError(r.status, data?.error?.code || 'http', data?.error?.message || `${r.status} ${r.statusText}`);
  }
  return data;
}

const collPath = (name) => '/collections/' + enc(name);

// ---------------------------------------------------------------- messages

function showError(e) {
  const b = $('#banner');
  b.textContent = e instanceof APIError ? `${e.message} (${e.status} ${e.code})` : String(e.message || e);
  b.hidden = false;
}
function clearError() { $('#banner').hidden = true; }

function askForKey() {
  $('#key-form').hidden = false;
  $('#key-input').focus();
}

$('#key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.key = $('#key-input').value.trim();
  sessionStorage.setItem('vdb.key', state.key);
  $('#key-form').hidden = true;
  start();
});

// ---------------------------------------------------------------- images (fetched with the key, shown as blob URLs)

const imageCache = new Map();

function imageURL(collection, id, size) {
  const key = `${collection}\n${id}\n${size || 'full'}`;
  if (!imageCache.has(key)) {
    const path = `${collPath(collection)}/points/${id}/` + (size ? `thumbnail?size=${size}` : 'image');
    const p = api('GET', path, undefined, { raw: true }).then((r) => r.blob()).then((b) => URL.createObjectURL(b));
    p.catch(() => imageCache.delete(key));
    imageCache.set(key, p);
  }
  return imageCache.get(key);
}

function setImage(img, collection, id, size) {
  imageURL(collection, id, size).then((u) => { img.src = u; }, () => { img.alt = 'image unavailable'; });
}

// ---------------------------------------------------------------- collections

const current = () => state.collections.find((c) => c.name === state.collection);

async function loadCollections() {
  const data = await api('GET', '/collections');
  state.collections = data.collections;
  if (!current()) {
    const photos = state.collections.find((c) => c.photos);
    state.collection = (photos || state.collections[0] || {}).name || '';
  }
  const sel = $('#collection');
  sel.replaceChildren(...state.collections.map((c) => {
    const o = document.createElement('option');
    o.value = c.name;
    o.textContent = `${c.name} (${c.count})`;
    return o;
  }));
  sel.value = state.collection;
  renderCollectionsTable();
}

$('#collection').addEventListener('change', (ev) => selectCollection(ev.target.value));

function selectCollection(name) {
  state.collection = name;
  localStorage.setItem('vdb.collection', name);
  $('#collection').value = name;
  state.search = { hits: [], page: 0, label: '' };
  renderResults();
  resetBrowse();
  renderCollectionsTable();
  if (location.hash === '#data') showManage();
}

function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function renderCollectionsTable() {
  const body = $('#collections-table tbody');
  body.replaceChildren(...state.collections.map((c) => {
    const tr = document.createElement('tr');
    if (c.name === state.collection) tr.className = 'current';
    const index = c.index.type === 'flat' ? 'flat' : `${c.index.type}${c.index.built ? '' : ' (not built)'}`;
    const cells = [c.name, c.count, c.dim, c.metric, index, formatBytes(c.bytes_on_disk)];
    cells.forEach((v, i) => {
      const td = document.createElement('td');
      td.textContent = v;
      if (i === 1 || i === 2 || i === 5) td.className = 'num';
      tr.append(td);
    });
    const td = document.createElement('td');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Browse';
    b.dataset.browse = c.name;
    b.setAttribute('aria-label', `Browse ${c.name}`);
    b.addEventListener('click', () => { selectCollection(c.name); showManage(); $('#browse-title').focus(); });
    td.append(b);
    tr.append(td);
    return tr;
  }));
}

// ---------------------------------------------------------------- filters

function addFilterRow(key = '', op = '=', value = '') {
  const row = document.createElement('div');
  row.className = 'filter-row';
  const k = document.createElement('input');
  k.placeholder = 'field (e.g. format)'; k.value = key; k.setAttribute('list', 'metadata-keys'); k.setAttribute('aria-label', 'Metadata field');
  const o = document.createElement('select');
  o.setAttribute('aria-label', 'Comparison');
  for (const x of ['=', '!=', '<', '<=', '>', '>=']) { const opt = document.createElement('option'); opt.textContent = x; o.append(opt); }
  o.value = op;
  const v = document.createElement('input');
  v.placeholder = 'value'; v.value = value; v.setAttribute('aria-label', 'Value');
  const x = document.createElement('button');
  x.type = 'button'; x.textContent = 'Remove'; x.setAttribute('aria-label', 'Remove filter');
  x.addEventListener('click', () => { row.remove(); updateFilterCount(); });
  for (const el of [k, o, v]) el.addEventListener('change', updateFilterCount);
  row.append(k, o, v, x);
  $('#filter-rows').append(row);
  updateFilterCount();
  k.focus();
}

function filterConditions() {
  return [...document.querySelectorAll('.filter-row')]
    .map((r) => { const [k, o, v] = r.querySelectorAll('input, select'); return k.value.trim() ? `${k.value.trim()}${o.value}${v.value.trim()}` : null; })
    .filter(Boolean);
}

function updateFilterCount() {
  const n = filterConditions().length;
  $('#filter-count').textContent = n ? `(${n})` : '';
}

function rememberMetadataKeys(items) {
  const keys = new Set([...document.querySelectorAll('#metadata-keys option')].map((o) => o.value));
  for (const it of items) for (const k of Object.keys(it.metadata || {})) keys.add(k);
  $('#metadata-keys').replaceChildren(...[...keys].sort().map((k) => { const o = document.createElement('option'); o.value = k; return o; }));
}

$('#add-filter').addEventListener('click', () => addFilterRow());

// ---------------------------------------------------------------- search

const topK = () => Number($('#topk').value);

async function runSearch(label, request) {
  clearError();
  if (!state.collection) { showError(new Error('No collection: ingest photos or create a collection first.')); return; }
  $('#result-summary').textContent = 'Searching…';
  try {
    const data = await request();
    state.search = { hits: data.results, page: 0, label: `${label} — ${data.took_ms.toFixed(1)} ms` };
    rememberMetadataKeys(data.results);
    setupSlider();
  } catch (e) {
    state.search = { hits: [], page: 0, label: '' };
    showError(e);
  }
  renderResults();
}

function searchText(text) {
  const filter = filterConditions();
  return runSearch(`“${text}”`, () => api('POST', `${collPath(state.collection)}/search`, { text, k: topK(), filter }));
}

function searchImage(file) {
  if (!file) return;
  const q = new URLSearchParams({ k: String(topK()) });
  for (const f of filterConditions()) q.append('filter', f);
  return runSearch(`image ${file.name || 'from clipboard'}`, () => api('POST', `${collPath(state.collection)}/search/image?${q}`, file));
}

function findSimilar(id, name) {
  location.hash = '#search';
  const filter = filterConditions();
  return runSearch(`similar to ${name || id}`, () => api('POST', `${collPath(state.collection)}/search`, { id, k: topK(), filter }));
}

$('#search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('#query').value.trim();
  if (text) searchText(text);
});
$('#file-input').addEventListener('change', (ev) => { searchImage(ev.target.files[0]); ev.target.value = ''; });
$('#file-label').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); $('#file-input').click(); }
});
$('#topk').addEventListener('change', () => { if ($('#query').value.trim()) searchText($('#query').value.trim()); });

const drop = $('#dropzone');
for (const t of [drop, $('#page-search')]) {
  t.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  t.addEventListener('dragleave', () => drop.classList.remove('over'));
  t.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    const file = [...ev.dataTransfer.files].find((f) => f.type.startsWith('image/')) || ev.dataTransfer.files[0];
    searchImage(file);
  });
}
document.addEventListener('paste', (ev) => {
  if (location.hash === '#data') return;
  const item = [...(ev.clipboardData?.items || [])].find((i) => i.kind === 'file' && i.type.startsWith('image/'));
  if (item) { ev.preventDefault(); searchImage(item.getAsFile()); }
});

// relevance slider: hides results below a score
function setupSlider() {
  const s = $('#min-score');
  const scores = state.search.hits.map((h) => h.score);
  const lo = scores.length ? Math.floor(Math.min(...scores) * 100) / 100 : -1;
  const hi = scores.length ? Math.ceil(Math.max(...scores) * 100) / 100 : 1;
  s.min = String(lo);
  s.max = String(Math.max(hi, lo + 0.01));
  s.step = String(Math.max((hi - lo) / 100, 0.0001));
  s.value = String(lo);
  updateSliderLabel();
}
function updateSliderLabel() {
  const s = $('#min-score');
  $('#min-score-value').textContent = Number(s.value) <= Number(s.min) ? 'off' : Number(s.value).toFixed(3);
}
$('#min-score').addEventListener('input', () => { state.search.page = 0; updateSliderLabel(); renderResults(); });

function visibleHits() {
  const s = $('#min-score');
  const min = Number(s.value);
  return Number(s.value) <= Number(s.min) ? state.search.hits : state.search.hits.filter((h) => h.score >= min);
}

function renderResults() {
  const hits = visibleHits();
  const pages = Math.max(1, Math.ceil(hits.length / PAGE));
  state.search.page = Math.min(state.search.page, pages - 1);
  const page = hits.slice(state.search.page * PAGE, (state.search.page + 1) * PAGE);
  $('#query-label').textContent = state.search.label;
  $('#result-summary').textContent = state.search.label
    ? `${hits.length} result${hits.length === 1 ? '' : 's'}, page ${state.search.page + 1} of ${pages}` : '';
  const photos = current()?.photos;
  const grid = $('#results');
  grid.classList.toggle('rows', !photos);
  grid.replaceChildren(...page.map((h, i) => resultItem(h, state.search.page * PAGE + i + 1, photos)));
  $('#prev-page').disabled = state.search.page === 0;
  $('#next-page').disabled = state.search.page >= pages - 1;
}

$('#prev-page').addEventListener('click', () => { state.search.page--; renderResults(); });
$('#next-page').addEventListener('click', () => { state.search.page++; renderResults(); });

const baseName = (p) => (p || '').split('/').pop();
const fmt = (x) => (Math.abs(x) >= 1000 ? x.toExponential(3) : x.toFixed(4));

function resultItem(hit, rank, photos) {
  const name = baseName(hit.metadata.path) || `id ${hit.id}`;
  const el = document.createElement('div');
  el.className = photos ? 'tile result' : 'row result';
  el.dataset.id = hit.id;
  el.dataset.path = hit.metadata.path || '';
  el.dataset.rank = rank;
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'open';
  open.setAttribute('aria-label', `Result ${rank}: ${name}, score ${fmt(hit.score)}. Open details`);
  open.addEventListener('click', () => openDetail(hit.id, hit));
  if (photos) {
    open.className = 'open tile-open';
    const img = document.createElement('img');
    img.alt = name;
    img.loading = 'lazy';
    setImage(img, state.collection, hit.id, THUMB);
    open.append(img);
    el.append(open);
    const cap = document.createElement('div');
    cap.className = 'cap';
    cap.innerHTML = '<div class="name"></div><div class="nums"></div>';
    cap.querySelector('.name').textContent = `${rank}. ${name}`;
    cap.querySelector('.nums').textContent = `score ${fmt(hit.score)} · distance ${fmt(hit.distance)}`;
    el.append(cap);
  } else {
    open.textContent = `${rank}. id ${hit.id}`;
    const nums = document.createElement('span');
    nums.textContent = `score ${fmt(hit.score)}\ndistance ${fmt(hit.distance)}`;
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = JSON.stringify(hit.metadata);
    el.append(open, nums, meta);
  }
  const actions = document.createElement('div');
  actions.className = 'actions';
  const sim = document.createElement('button');
  sim.type = 'button';
  sim.className = 'similar';
  sim.textContent = 'Find similar';
  sim.setAttribute('aria-label', `Find photos similar to ${name}`);
  sim.addEventListener('click', () => findSimilar(hit.id, name));
  actions.append(sim);
  el.append(actions);
  return el;
}

// ---------------------------------------------------------------- detail view

async function openDetail(id, hit) {
  const dlg = $('#detail');
  const photos = current()?.photos;
  let point = hit;
  try { point = await api('GET', `${collPath(state.collection)}/points/${id}`); } catch (e) { showError(e); return; }
  const m = point.metadata || {};
  $('#detail-title').textContent = baseName(m.path) || `Point ${id}`;
  const img = $('#detail-image');
  img.hidden = !photos;
  img.removeAttribute('src');
  img.alt = baseName(m.path) || '';
  if (photos) setImage(img, state.collection, id, 0);
  const rows = [['id', id]];
  if (hit && hit.score !== undefined) rows.push(['score', fmt(hit.score)], ['distance', fmt(hit.distance)]);
  if (m.path) rows.push(['path', m.path]);
  if (m.bytes !== undefined) rows.push(['size', formatBytes(m.bytes)]);
  if (m.width !== undefined) rows.push(['dimensions', `${m.width} × ${m.height}`]);
  if (m.mtime !== undefined) rows.push(['date', new Date(m.mtime * 1000).toLocaleString()]);
  if (m.caption) rows.push(['caption', m.caption]);
  const shown = new Set(['path', 'bytes', 'width', 'height', 'mtime', 'caption']);
  for (const [k, v] of Object.entries(m)) if (!shown.has(k)) rows.push([k, String(v)]);
  $('#detail-meta').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    return [dt, dd];
  }));
  $('#detail-similar').onclick = () => { dlg.close(); findSimilar(id, baseName(m.path)); };
  dlg.showModal();
}

// ---------------------------------------------------------------- data page: browse, select, delete

function resetBrowse() {
  state.browse = { offsets: [null], page: 0, next: null, points: [], selected: new Set(), anchor: null };
}

async function showManage() {
  const c = current();
  $('#manage').hidden = !c;
  if (!c) return;
  $('#browse-title').textContent = `Browse ${c.name}`;
  $('#browse-title').tabIndex = -1;
  renderIndexState();
  renderIngestPanel();
  await loadBrowsePage();
  refreshIngestStatus();
}

async function loadBrowsePage() {
  const b = state.browse;
  try {
    const data = await api('POST', `${collPath(state.collection)}/points/scroll`, { limit: PAGE, offset: b.offsets[b.page] });
    b.points = data.points;
    b.next = data.next_page_offset;
    b.offsets[b.page + 1] = b.next;
    rememberMetadataKeys(b.points);
  } catch (e) { showError(e); b.points = []; b.next = null; }
  renderBrowse();
}

function renderBrowse() {
  const b = state.browse;
  const c = current();
  const count = c ? c.count : 0;
  const pages = Math.max(1, Math.ceil(count / PAGE));
  $('#browse-summary').textContent = `${count} point${count === 1 ? '' : 's'}, page ${b.page + 1} of ${pages}`;
  const grid = $('#browse-grid');
  grid.classList.toggle('rows', !c?.photos);
  grid.replaceChildren(...b.points.map((p, i) => browseItem(p, i, c?.photos)));
  $('#browse-prev').disabled = b.page === 0;
  $('#browse-next').disabled = b.next === null || b.next === undefined;
  $('#delete-selected').disabled = b.selected.size === 0 || state.info?.read_only;
  $('#delete-selected').textContent = b.selected.size ? `Delete selected (${b.selected.size})` : 'Delete selected';
}

function browseItem(p, index, photos) {
  const b = state.browse;
  const name = baseName(p.metadata.path) || `id ${p.id}`;
  const el = document.createElement('button');
  el.type = 'button';
  el.className = (photos ? 'tile' : 'row') + ' point' + (b.selected.has(p.id) ? ' selected' : '');
  el.dataset.id = p.id;
  el.setAttribute('aria-pressed', b.selected.has(p.id) ? 'true' : 'false');
  el.setAttribute('aria-label', `${name}: select (Enter opens details)`);
  if (photos) {
    const img = document.createElement('img');
    img.alt = '';
    img.loading = 'lazy';
    setImage(img, state.collection, p.id, THUMB);
    const cap = document.createElement('span');
    cap.className = 'cap name';
    cap.textContent = name;
    const check = document.createElement('span');
    check.className = 'check';
    check.textContent = '✓';
    el.append(check, img, cap);
  } else {
    const id = document.createElement('span'); id.textContent = `id ${p.id}`;
    const meta = document.createElement('span'); meta.className = 'meta'; meta.textContent = JSON.stringify(p.metadata);
    el.append(id, meta);
  }
  el.addEventListener('click', (ev) => toggleSelect(p.id, index, ev.shiftKey));
  el.addEventListener('dblclick', () => openDetail(p.id));
  el.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') { ev.preventDefault(); openDetail(p.id); }
  });
  return el;
}

function toggleSelect(id, index, range) {
  const b = state.browse;
  if (range && b.anchor !== null) {
    const [from, to] = [Math.min(b.anchor, index), Math.max(b.anchor, index)];
    for (let i = from; i <= to; i++) b.selected.add(b.points[i].id);
  } else {
    if (b.selected.has(id)) b.selected.delete(id); else b.selected.add(id);
    b.anchor = index;
  }
  const focused = document.activeElement?.dataset?.id;
  renderBrowse();
  if (focused) document.querySelector(`#browse-grid [data-id="${focused}"]`)?.focus();
}

$('#browse-prev').addEventListener('click', () => { state.browse.page--; loadBrowsePage(); });
$('#browse-next').addEventListener('click', () => { state.browse.page++; loadBrowsePage(); });

$('#delete-selected').addEventListener('click', async () => {
  const b = state.browse;
  const ids = [...b.selected];
  if (!ids.length || !confirm(`Delete ${ids.length} point${ids.length === 1 ? '' : 's'} from ${state.collection}? This cannot be undone.`)) return;
  clearError();
  try {
    await api('POST', `${collPath(state.collection)}/points/delete`, { ids });
    b.selected.clear();
    await loadCollections();
    await loadBrowsePage();
  } catch (e) { showError(e); }
});

// ---------------------------------------------------------------- data page: index

function renderIndexState() {
  const c = current();
  if (!c) return;
  const i = c.index;
  $('#index-state').textContent = i.type === 'flat'
    ? 'No index: searches are exact (FLAT).'
    : `${i.type}${i.built ? '' : ' (not built yet)'}, ` + (i.type === 'hnsw' ? `M=${i.params.m}, ef_construction=${i.params.ef_construction}` : `nlist=${i.params.nlist}`)
      + (i.memory_bytes ? `, ${formatBytes(i.memory_bytes)} in memory` : '');
  $('#drop-index').disabled = i.type === 'flat' || state.info?.read_only;
  $('#build-index').disabled = Boolean(state.info?.read_only);
  if (state.info?.read_only) $('#index-state').textContent += ' (read-only server)';
}

$('#index-type').addEventListener('change', () => {
  const hnsw = $('#index-type').value === 'hnsw';
  document.querySelectorAll('.p-hnsw').forEach((e) => { e.hidden = !hnsw; });
  document.querySelectorAll('.p-ivf').forEach((e) => { e.hidden = hnsw; });
});

$('#index-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  const type = $('#index-type').value;
  const params = type === 'hnsw'
    ? { m: Number($('#index-m').value), ef_construction: Number($('#index-efc').value) }
    : { nlist: Number($('#index-nlist').value) };
  $('#index-state').textContent = `Building ${type}…`;
  $('#build-index').disabled = true;
  try { await api('POST', `${collPath(state.collection)}/index`, { type, params }); } catch (e) { showError(e); }
  $('#build-index').disabled = false;
  await loadCollections();
  renderIndexState();
});

$('#drop-index').addEventListener('click', async () => {
  clearError();
  try { await api('DELETE', `${collPath(state.collection)}/index`); } catch (e) { showError(e); }
  await loadCollections();
  renderIndexState();
});

// ---------------------------------------------------------------- data page: ingest

function renderIngestPanel() {
  const roots = state.info?.ingest_roots || [];
  const sel = $('#ingest-root');
  sel.replaceChildren(...roots.map((r) => { const o = document.createElement('option'); o.textContent = r; return o; }));
  const enabled = roots.length > 0 && !state.info?.read_only && state.info?.model;
  $('#ingest-help').textContent = enabled
    ? `Photos are embedded into “${state.collection}” in the background.`
    : 'Ingest over HTTP is off: start the server with --allow-ingest-from DIR (and a model, without --read-only).';
  for (const id of ['#ingest-root', '#ingest-sub', '#start-ingest']) $(id).disabled = !enabled;
}

$('#ingest-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  const sub = $('#ingest-sub').value.trim().replace(/^\/+/, '');
  const path = $('#ingest-root').value + (sub ? '/' + sub : '');
  try {
    await api('POST', `${collPath(state.collection)}/ingest`, { paths: [path] });
    refreshIngestStatus();
  } catch (e) { showError(e); }
});

async function refreshIngestStatus() {
  clearTimeout(state.ingestTimer);
  if (!state.collection || location.hash !== '#data') return;
  let s;
  try { s = await api('GET', `${collPath(state.collection)}/ingest`); } catch (_) { return; }
  const bar = $('#ingest-progress');
  const text = $('#ingest-status');
  if (s.state === 'idle') { bar.hidden = true; text.textContent = ''; return; }
  bar.hidden = false;
  bar.max = Math.max(1, s.total);
  bar.value = s.state === 'done' ? bar.max : s.processed;
  if (s.state === 'running') {
    text.textContent = `Ingesting: ${s.processed} of ${s.total} files, ${s.ingested} stored` + (s.eta_s ? `, about ${Math.ceil(s.eta_s)} s left` : '');
    state.ingestTimer = setTimeout(refreshIngestStatus, 700);
  } else if (s.state === 'done') {
    const r = s.report;
    text.textContent = `Done: ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.skipped.length} skipped, ${r.failed.length} failed; ${r.count} photos.`;
    await loadCollections();
    renderBrowse();
  } else {
    text.textContent = `Failed: ${s.error}`;
  }
}

// ---------------------------------------------------------------- pages and start

function route() {
  const page = location.hash === '#data' ? 'data' : 'search';
  $('#page-search').hidden = page !== 'search';
  $('#page-data').hidden = page !== 'data';
  $('#nav-search').toggleAttribute('aria-current', page === 'search');
  $('#nav-data').toggleAttribute('aria-current', page === 'data');
  if ($('#nav-search').hasAttribute('aria-current')) $('#nav-search').setAttribute('aria-current', 'page');
  if ($('#nav-data').hasAttribute('aria-current')) $('#nav-data').setAttribute('aria-current', 'page');
  document.title = page === 'data' ? 'vdb — data' : 'vdb — search';
  if (page === 'data' && state.info) showManage();
}
window.addEventListener('hashchange', route);

document.addEventListener('keydown', (ev) => {
  const typing = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement?.tagName);
  if (ev.key === '/' && !typing) { ev.preventDefault(); location.hash = '#search'; $('#query').focus(); }
});

async function start() {
  clearError();
  try {
    state.info = await api('GET', '');
    await loadCollections();
  } catch (e) {
    if (!(e instanceof APIError && e.status === 401)) showError(e);
    return;
  }
  route();
  renderResults();
}

start();
