// One card per sensor. Text only through textContent: names and topics come from
// sensors.yaml and are never parsed as HTML.
import { SensorChart } from './chart.js';
import { ago, clock, stateAt } from './format.js';

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class SensorCard {
  constructor(sensor, now) {
    this.root = el('article', 'card');
    this.root.dataset.sensor = sensor.key;
    const head = el('div', 'card-head');
    this.name = el('h2');
    this.state = el('span', 'state');
    head.append(this.name, this.state);

    const reading = el('div', 'reading');
    this.value = el('span', 'value', '—');
    this.age = el('span', 'age');
    // The unit of what this card measures (°C, %, V; none for presence), from the agent.
    this.unit = el('span', 'unit', sensor.unit ?? '°C');
    reading.append(this.value, this.unit, this.age);

    this.fault = el('p', 'fault');
    this.fault.hidden = true;
    this.chartBox = el('div', 'chart');
    this.chart = new SensorChart(this.chartBox, sensor.unit ?? '°C');

    const meta = el('dl', 'meta');
    this.topic = el('dd', 'topic');
    this.ids = el('dd', 'ids');
    this.chip = el('dd', 'chip');
    meta.append(el('dt', '', 'topic'), this.topic, el('dt', '', 'id'), this.ids, el('dt', '', 'chip'), this.chip);

    this.root.append(head, reading, this.fault, this.chartBox, meta);
    this.update(sensor, now);
  }

  /** New data from the agent. */
  update(sensor, now) {
    this.sensor = sensor;
    this.name.textContent = sensor.name;
    this.name.title = sensor.name;
    this.value.textContent = sensor.text ?? '—';
    this.unit.textContent = sensor.unit ?? '°C';
    this.topic.textContent = sensor.topic + (sensor.mapped ? '' : '  (unmapped)');
    this.ids.textContent = `${sensor.sysfs} · ${sensor.owfs}`;
    this.chip.textContent = `${sensor.chip} on ${sensor.bus}, every ${Math.round(sensor.intervalMs / 1000)} s`;
    if (sensor.fault) {
      const since = `since ${clock(sensor.fault.since)}`;
      const summary = el('span', 'summary', sensor.fault.summary);
      this.fault.replaceChildren(summary, el('small', '', `${sensor.fault.message}; ${since}`));
      this.fault.hidden = false;
    } else {
      this.fault.hidden = true;
      this.fault.replaceChildren();
    }
    this.tick(now);
  }

  /** Every second: the age, and ok → stale when readings stop. */
  tick(now) {
    const state = stateAt(this.sensor, now);
    this.root.dataset.state = state;
    this.state.textContent = state;
    this.age.textContent = this.sensor.at === null ? 'no reading yet' : ago(now - this.sensor.at);
    this.age.title = this.sensor.at === null ? '' : `last good reading at ${clock(this.sensor.at)}`;
  }

  remove() {
    this.chart.destroy();
    this.root.remove();
  }
}
