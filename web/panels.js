// The status side of the page: broker, outbox, buses, unmapped devices.
import { duration } from './format.js';

const $ = (id) => document.getElementById(id);

function cell(row, text, title) {
  const td = document.createElement('td');
  td.textContent = text;
  if (title) td.title = title;
  row.append(td);
}

export function renderStatus(status) {
  $('host').textContent = `on ${status.host} (${status.clientId})`;
  const broker = $('broker');
  broker.dataset.state = status.broker.connected ? 'ok' : 'down';
  broker.textContent = `broker ${status.broker.connected ? 'connected' : 'disconnected'}`;
  broker.title = status.broker.target;

  const outbox = $('outbox');
  outbox.hidden = status.outbox === null;
  if (status.outbox) outbox.textContent = `outbox ${status.outbox.depth}`;

  const body = $('buses').tBodies[0];
  body.replaceChildren(
    ...status.buses.map((b) => {
      const row = document.createElement('tr');
      cell(row, b.label, b.bus);
      cell(row, String(b.sensors));
      cell(row, duration(b.lastCycleMs), 'time to read every due sensor on this bus, last pass');
      cell(row, b.bulk === null ? '—' : b.bulk ? 'yes' : 'no', b.bulk === null ? 'not reported by this version' : '');
      return row;
    }),
  );

  $('unmapped-section').hidden = status.unmapped.length === 0;
  $('unmapped').replaceChildren(
    ...status.unmapped.map((u) => {
      const li = document.createElement('li');
      const where = u.topic ? `publishing to ${u.topic}` : 'not published (unmapped: ignore)';
      li.textContent = `${u.sysfs} · ${u.owfs} — ${u.chip} on ${u.bus}, ${where}`;
      return li;
    }),
  );
  const snippet = $('snippet');
  if (snippet.value !== status.snippet) snippet.value = status.snippet;
}

/** Copy the snippet: the Clipboard API where the page is a secure context, else the old way. */
export function wireCopyButton() {
  const button = $('copy');
  button.addEventListener('click', async () => {
    const snippet = $('snippet');
    let done = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(snippet.value);
        done = true;
      }
    } catch {
      // fall through to the selection
    }
    if (!done) {
      snippet.focus();
      snippet.select();
      done = document.execCommand('copy');
    }
    button.textContent = done ? 'Copied' : 'Select and copy by hand';
    setTimeout(() => (button.textContent = 'Copy snippet'), 2000);
  });
}
