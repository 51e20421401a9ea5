import { deflateSync } from 'node:zlib';

/**
 * A dependency-free line chart rendered to PNG: an RGB raster, Bresenham lines, a 5x7 bitmap
 * font for labels, and a minimal PNG encoder (IHDR, one zlib IDAT, IEND). Enough for the
 * benchmark's "success rate per class over time" chart without pulling in a canvas library.
 */
export type Rgb = readonly [number, number, number];

export class Raster {
  readonly pixels: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.pixels = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.pixels[i] = c[0];
    this.pixels[i + 1] = c[1];
    this.pixels[i + 2] = c[2];
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let yy = Math.max(0, Math.round(y)); yy < Math.min(this.height, Math.round(y + h)); yy++) {
      for (let xx = Math.max(0, Math.round(x)); xx < Math.min(this.width, Math.round(x + w)); xx++) this.set(xx, yy, c);
    }
  }

  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    const r = Math.floor((thickness - 1) / 2);
    for (;;) {
      for (let ox = -r; ox <= r + ((thickness - 1) % 2); ox++) for (let oy = -r; oy <= r + ((thickness - 1) % 2); oy++) this.set(x0 + ox, y0 + oy, c);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /** Draws text with the built-in 5x7 font (upper-cased), `scale` pixels per font pixel. */
  text(x: number, y: number, s: string, c: Rgb, scale = 1): void {
    let cx = x;
    for (const ch of s.toUpperCase()) {
      const glyph = FONT[ch] ?? FONT['?'];
      for (let row = 0; row < 7; row++) {
        for (let col = 0; col < 5; col++) {
          if ((glyph[row] >> (4 - col)) & 1) this.fillRect(cx + col * scale, y + row * scale, scale, scale, c);
        }
      }
      cx += 6 * scale;
    }
  }

  static textWidth(s: string, scale = 1): number {
    return s.length * 6 * scale - scale;
  }

  toPng(): Buffer {
    const raw = Buffer.alloc((this.width * 3 + 1) * this.height);
    for (let y = 0; y < this.height; y++) {
      raw[y * (this.width * 3 + 1)] = 0; // filter: none
      Buffer.from(this.pixels.buffer, this.pixels.byteOffset + y * this.width * 3, this.width * 3).copy(raw, y * (this.width * 3 + 1) + 1);
    }
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(this.width, 0);
    ihdr.writeUInt32BE(this.height, 4);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 2; // colour type: truecolour
    ihdr[10] = 0;
    ihdr[11] = 0;
    ihdr[12] = 0;
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(raw, { level: 9 })),
      chunk('IEND', Buffer.alloc(0)),
    ]);
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length, 0);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td), 0);
  return Buffer.concat([len, td, crc]);
}

export interface Series {
  readonly label: string;
  readonly color: Rgb;
  /** [x, y] points; y null leaves a gap. */
  readonly points: ReadonlyArray<readonly [number, number | null]>;
}

export interface PanelSpec {
  readonly title: string;
  readonly series: readonly Series[];
  /** Shaded x range (e.g. the surge). */
  readonly band?: readonly [number, number];
}

/**
 * Stacked panels sharing an x axis (seconds) and a 0..100 % y axis, one legend at the top.
 */
export function renderPanels(panels: readonly PanelSpec[], opts: { title: string; xMax: number; xLabel: string; yLabel: string }): Buffer {
  const width = 1000;
  const panelH = 230;
  const top = 60;
  const left = 70;
  const right = 20;
  const gap = 50;
  const height = top + panels.length * (panelH + gap) + 20;
  const img = new Raster(width, height);
  const black: Rgb = [30, 30, 30];
  const grid: Rgb = [225, 225, 225];
  img.text(left, 12, opts.title, black, 2);
  // Legend from the first panel's series.
  let lx = left;
  for (const s of panels[0]?.series ?? []) {
    img.fillRect(lx, 40, 18, 4, s.color);
    img.text(lx + 24, 38, s.label, black, 1);
    lx += 24 + Raster.textWidth(s.label) + 24;
  }
  const plotW = width - left - right;
  panels.forEach((p, i) => {
    const y0 = top + i * (panelH + gap) + 20;
    const xOf = (x: number) => left + (x / opts.xMax) * plotW;
    const yOf = (v: number) => y0 + panelH - (v / 100) * panelH;
    if (p.band) img.fillRect(xOf(p.band[0]), y0, xOf(p.band[1]) - xOf(p.band[0]), panelH, [255, 236, 214]);
    for (let v = 0; v <= 100; v += 20) {
      img.line(left, yOf(v), left + plotW, yOf(v), grid);
      const label = `${v}%`;
      img.text(left - 8 - Raster.textWidth(label), yOf(v) - 3, label, black);
    }
    const step = opts.xMax > 60 ? 10 : 5;
    for (let x = 0; x <= opts.xMax; x += step) {
      img.line(xOf(x), y0 + panelH, xOf(x), y0 + panelH + 4, black);
      img.text(xOf(x) - Raster.textWidth(String(x)) / 2, y0 + panelH + 8, String(x), black);
    }
    img.line(left, y0, left, y0 + panelH, black);
    img.line(left, y0 + panelH, left + plotW, y0 + panelH, black);
    img.text(left, y0 - 14, p.title, black, 1);
    for (const s of p.series) {
      let prev: readonly [number, number] | undefined;
      for (const [x, y] of s.points) {
        if (y === null) {
          prev = undefined;
          continue;
        }
        const pt: [number, number] = [xOf(x), yOf(Math.max(0, Math.min(100, y)))];
        if (prev) img.line(prev[0], prev[1], pt[0], pt[1], s.color, 2);
        prev = pt;
      }
    }
  });
  img.text(left + plotW / 2 - Raster.textWidth(opts.xLabel) / 2, height - 14, opts.xLabel, black);
  return img.toPng();
}

/* 5x7 font: each glyph is 7 rows of 5 bits (MSB = leftmost column). */
const FONT: Record<string, readonly number[]> = {
  ' ': [0, 0, 0, 0, 0, 0, 0],
  '?': [14, 17, 1, 2, 4, 0, 4],
  '%': [24, 25, 2, 4, 8, 19, 3],
  '.': [0, 0, 0, 0, 0, 12, 12],
  ',': [0, 0, 0, 0, 12, 4, 8],
  ':': [0, 12, 12, 0, 12, 12, 0],
  '-': [0, 0, 0, 31, 0, 0, 0],
  '+': [0, 4, 4, 31, 4, 4, 0],
  '/': [1, 1, 2, 4, 8, 16, 16],
  '(': [2, 4, 8, 8, 8, 4, 2],
  ')': [8, 4, 2, 2, 2, 4, 8],
  '=': [0, 0, 31, 0, 31, 0, 0],
  '>': [8, 4, 2, 1, 2, 4, 8],
  '<': [2, 4, 8, 16, 8, 4, 2],
  '0': [14, 17, 19, 21, 25, 17, 14],
  '1': [4, 12, 4, 4, 4, 4, 14],
  '2': [14, 17, 1, 2, 4, 8, 31],
  '3': [31, 2, 4, 2, 1, 17, 14],
  '4': [2, 6, 10, 18, 31, 2, 2],
  '5': [31, 16, 30, 1, 1, 17, 14],
  '6': [6, 8, 16, 30, 17, 17, 14],
  '7': [31, 1, 2, 4, 8, 8, 8],
  '8': [14, 17, 17, 14, 17, 17, 14],
  '9': [14, 17, 17, 15, 1, 2, 12],
  A: [14, 17, 17, 31, 17, 17, 17],
  B: [30, 17, 17, 30, 17, 17, 30],
  C: [14, 17, 16, 16, 16, 17, 14],
  D: [28, 18, 17, 17, 17, 18, 28],
  E: [31, 16, 16, 30, 16, 16, 31],
  F: [31, 16, 16, 30, 16, 16, 16],
  G: [14, 17, 16, 23, 17, 17, 15],
  H: [17, 17, 17, 31, 17, 17, 17],
  I: [14, 4, 4, 4, 4, 4, 14],
  J: [7, 2, 2, 2, 2, 18, 12],
  K: [17, 18, 20, 24, 20, 18, 17],
  L: [16, 16, 16, 16, 16, 16, 31],
  M: [17, 27, 21, 21, 17, 17, 17],
  N: [17, 17, 25, 21, 19, 17, 17],
  O: [14, 17, 17, 17, 17, 17, 14],
  P: [30, 17, 17, 30, 16, 16, 16],
  Q: [14, 17, 17, 17, 21, 18, 13],
  R: [30, 17, 17, 30, 20, 18, 17],
  S: [15, 16, 16, 14, 1, 1, 30],
  T: [31, 4, 4, 4, 4, 4, 4],
  U: [17, 17, 17, 17, 17, 17, 14],
  V: [17, 17, 17, 17, 17, 10, 4],
  W: [17, 17, 17, 21, 21, 21, 10],
  X: [17, 17, 10, 4, 10, 17, 17],
  Y: [17, 17, 17, 10, 4, 4, 4],
  Z: [31, 1, 2, 4, 8, 16, 31],
};
