// One uPlot chart per sensor: the last 24 h. uPlot (MIT) is served from /vendor.
/* global uPlot */

const HEIGHT = 120;

/** Colours from the stylesheet, so charts follow light and dark mode. */
function palette() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return { line: v('--chart-line'), fill: v('--chart-fill'), axis: v('--chart-axis'), grid: v('--chart-grid') };
}

/** Local time of day on the x axis; seconds only when the chart spans a few minutes. */
function timeLabels(u, splits) {
  const span = u.scales.x.max - u.scales.x.min;
  const opts = span < 300 ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' } : { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  return splits.map((s) => new Date(s * 1000).toLocaleTimeString([], opts));
}

/** At least ±0.5 °C around the data, so a steady sensor is a flat line, not a 0…50 axis. */
function yRange(u, min, max) {
  if (min === null || max === null) return [0, 1];
  const pad = Math.max(0.5, (max - min) * 0.1);
  return [Math.floor((min - pad) * 2) / 2, Math.ceil((max + pad) * 2) / 2];
}

export class SensorChart {
  /** @param {HTMLElement} box  @param {string} unit */
  constructor(box, unit) {
    this.box = box;
    this.unit = unit;
    this.data = [[], []];
    this.readout = document.createElement('span');
    this.readout.className = 'readout';
    this.nodata = document.createElement('span');
    this.nodata.className = 'nodata muted';
    this.plot = undefined;
  }

  /** Replace every point: times in epoch ms, values in °C or null for a failed read. */
  set(t, v) {
    this.data = [t.map((x) => x / 1000), v.slice()];
    this.#draw();
  }

  /** Add the newest point and drop what fell out of the window. */
  push(t, v, windowMs) {
    const [xs, ys] = this.data;
    const x = t / 1000;
    if (xs.length > 0 && x <= xs[xs.length - 1]) return; // already there (snapshot race)
    xs.push(x);
    ys.push(v);
    const from = x - windowMs / 1000;
    let drop = 0;
    while (drop < xs.length && xs[drop] < from) drop++;
    if (drop > 0) {
      xs.splice(0, drop);
      ys.splice(0, drop);
    }
    this.#draw();
  }

  /** After a resize or a colour-scheme change. */
  rebuild() {
    this.plot?.destroy();
    this.plot = undefined;
    this.#draw();
  }

  destroy() {
    this.plot?.destroy();
    this.plot = undefined;
  }

  #draw() {
    const hasData = this.data[1].some((y) => y !== null);
    if (!hasData) {
      this.nodata.textContent = this.data[0].length === 0 ? 'no readings yet' : 'no good reading in the last 24 h';
      this.plot?.destroy();
      this.plot = undefined;
      this.box.replaceChildren(this.nodata);
      return;
    }
    if (this.plot) {
      this.plot.setData(this.data);
      return;
    }
    const width = Math.max(120, this.box.clientWidth);
    this.box.replaceChildren(this.readout);
    this.plot = new uPlot(this.#options(width), this.data, this.box);
  }

  #options(width) {
    const c = palette();
    const axis = { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 }, font: '11px system-ui, sans-serif' };
    const unit = this.unit;
    return {
      width,
      height: HEIGHT,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: true }, y: { range: yRange } },
      axes: [{ ...axis, space: 70, values: timeLabels }, { ...axis, size: 44, space: 24, values: (u, vals) => vals.map((x) => x.toFixed(1)) }],
      series: [
        {},
        {
          label: unit,
          stroke: c.line,
          fill: c.fill,
          // Fill down to the axis, not to 0 °C (a freezer would fill upwards).
          fillTo: (u) => u.scales.y.min,
          width: 1.5,
          spanGaps: false,
          // A lone point has no line: show points while there are few.
          points: { show: (u, i, i0, i1) => i1 - i0 < 3, size: 5, fill: c.line },
        },
      ],
      hooks: {
        setCursor: [
          (u) => {
            const i = u.cursor.idx;
            const y = i === null || i === undefined ? null : u.data[1][i];
            this.readout.textContent = y === null || y === undefined ? '' : `${new Date(u.data[0][i] * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })}  ${y.toFixed(2)} ${unit}`;
          },
        ],
      },
    };
  }
}
