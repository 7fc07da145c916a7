//! The wireframe model inside the viewer stand-in: a small house that turns
//! while the viewer holds a valid token and stands still otherwise.
import { $ } from './view.js';

/** A small house: vertices and the edges between them. */
const MODEL = (() => {
  const v = [
    [-1, 0, -0.8], [1, 0, -0.8], [1, 0, 0.8], [-1, 0, 0.8], // floor
    [-1, 1, -0.8], [1, 1, -0.8], [1, 1, 0.8], [-1, 1, 0.8], // eaves
    [-1, 1.7, 0], [1, 1.7, 0], // ridge
    [-0.25, 0, 0.8], [0.25, 0, 0.8], [0.25, 0.65, 0.8], [-0.25, 0.65, 0.8], // door
    [0.5, 0.4, 0.8], [0.8, 0.4, 0.8], [0.8, 0.7, 0.8], [0.5, 0.7, 0.8], // window
    [1, 1.15, -0.4], [1, 1.15, 0.4], // gable vent
  ];
  const e = [
    [0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4],
    [0, 4], [1, 5], [2, 6], [3, 7], [4, 8], [7, 8], [5, 9], [6, 9], [8, 9],
    [10, 13], [13, 12], [12, 11], [14, 15], [15, 16], [16, 17], [17, 14], [18, 19],
  ];
  return { v, e };
})();

const isStill = matchMedia('(prefers-reduced-motion: reduce)').matches;
let canvas, ctx, isAuthorized;
let angle = 0.6;
let lastFrame = 0;

/** Draws the model in the `model` canvas; it turns while `isViewerAuthorized()`. */
export function startModel(isViewerAuthorized) {
  isAuthorized = isViewerAuthorized;
  canvas = $('model');
  ctx = canvas.getContext('2d');
  new ResizeObserver(resizeCanvas).observe(canvas);
  resizeCanvas();
  requestAnimationFrame(draw);
}

function resizeCanvas() {
  const ratio = window.devicePixelRatio || 1;
  const { width, height } = canvas.getBoundingClientRect();
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
}

/** Turn about the vertical axis, look down from a fixed pitch, perspective-divide. */
const PITCH = 0.42;
function project([x, y, z], w, h) {
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const x1 = x * cos - z * sin;
  const z1 = x * sin + z * cos;
  const y1 = y - 0.75;
  const y2 = y1 * Math.cos(PITCH) - z1 * Math.sin(PITCH);
  const z2 = y1 * Math.sin(PITCH) + z1 * Math.cos(PITCH);
  const scale = Math.min(w * 0.62, h) * 1.7 / (z2 + 6);
  return [w / 2 + x1 * scale, h * 0.55 - y2 * scale];
}

function draw(time) {
  const { width: w, height: h } = canvas.getBoundingClientRect();
  const isTurning = isAuthorized();
  if (!isStill && isTurning) angle += Math.min(time - lastFrame, 100) * 0.00025;
  lastFrame = time;
  ctx.clearRect(0, 0, w, h);

  ctx.lineWidth = 1;
  ctx.strokeStyle = 'rgba(148, 178, 214, 0.16)';
  for (let i = -6; i <= 6; i++) {
    line(project([i * 0.4, 0, -2.4], w, h), project([i * 0.4, 0, 2.4], w, h));
    line(project([-2.4, 0, i * 0.4], w, h), project([2.4, 0, i * 0.4], w, h));
  }

  ctx.lineWidth = 1.6;
  ctx.strokeStyle = isTurning ? '#7cc4ff' : 'rgba(160, 174, 192, 0.45)';
  const points = MODEL.v.map((p) => project(p, w, h));
  for (const [a, b] of MODEL.e) line(points[a], points[b]);
  requestAnimationFrame(draw);
}

function line([x1, y1], [x2, y2]) {
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.stroke();
}
