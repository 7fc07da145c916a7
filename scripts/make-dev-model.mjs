#!/usr/bin/env node
// Generates backend/assets/dev-model.glb, the 3D model the `--dev` resource
// server serves to the demo's viewer: a small three-storey building (site,
// slabs, walls with window openings, glazing, an entrance with door, canopy
// and steps, roof with parapet and plant) as binary glTF 2.0, one named mesh
// per building part and a few PBR materials. The output is the same bytes on
// every run, so tests/e2e/viewer-model.test.mjs can check the committed file.
//
// The GLB is written by hand rather than with three's GLTFExporter: the
// exporter needs the DOM's FileReader for binary output, and the format is
// small (a JSON chunk and a BIN chunk of vertex and index arrays), so a shim
// would be more code than this.
//
// Usage: node scripts/make-dev-model.mjs [OUT]   (default backend/assets/dev-model.glb)
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MODEL_PATH = join(ROOT, 'backend', 'assets', 'dev-model.glb');

// ─── The building, in metres; y is up, the entrance faces +z ─────────────────

const WIDTH = 21;
const DEPTH = 12;
const STOREYS = 3;
const STOREY_HEIGHT = 3.2;
const SLAB = 0.3;
const WALL = 0.25;
/** The ground-floor slab stands on a plinth, reached by the entrance steps. */
const PLINTH = 0.45;
const STEPS = 3;
/** One window per bay; an odd number of bays along the front puts the door in the middle one. */
const BAY = 3;
const WINDOW = { width: 1.8, sill: 0.9, head: 2.3 };
const DOOR = { width: 1.8, head: 2.4 };
const PARAPET = 0.9;
const GLASS = 0.04;

/** Physically based materials (glTF metallic-roughness). */
const MATERIALS = [
  { name: 'lawn', color: [0.36, 0.5, 0.27, 1], metallic: 0, roughness: 1 },
  { name: 'concrete', color: [0.64, 0.64, 0.62, 1], metallic: 0, roughness: 0.9 },
  { name: 'render', color: [0.88, 0.83, 0.74, 1], metallic: 0, roughness: 0.8 },
  { name: 'glass', color: [0.5, 0.72, 0.88, 0.35], metallic: 0.1, roughness: 0.05, isTransparent: true },
  { name: 'steel', color: [0.56, 0.58, 0.62, 1], metallic: 0.5, roughness: 0.45 },
  { name: 'timber', color: [0.47, 0.31, 0.18, 1], metallic: 0, roughness: 0.6 },
];

/** An axis-aligned box from its minimum and maximum corners. */
const box = (min, max) => ({ min, max });

/**
 * A straight wall as boxes around its openings. The wall runs along `axis`
 * ('x' or 'z') from `from` to `to`, at `at` on the other horizontal axis, from
 * height `bottom` for `height` metres. Each opening is `{ start, end, sill, head }`
 * in metres along the wall and above `bottom`, sorted and apart.
 */
function wallBoxes({ axis, from, to, at, bottom, height }, openings) {
  const place = (a0, a1, y0, y1) => (axis === 'x'
    ? box([a0, bottom + y0, at - WALL / 2], [a1, bottom + y1, at + WALL / 2])
    : box([at - WALL / 2, bottom + y0, a0], [at + WALL / 2, bottom + y1, a1]));
  const boxes = [];
  let cursor = from;
  for (const { start, end, sill, head } of openings) {
    if (start > cursor) boxes.push(place(cursor, start, 0, height));
    if (sill > 0) boxes.push(place(start, end, 0, sill));
    if (head < height) boxes.push(place(start, end, head, height));
    cursor = end;
  }
  if (to > cursor) boxes.push(place(cursor, to, 0, height));
  return boxes;
}

/** One window per `BAY` metres along a wall of `length`, centred in its bay. */
function windows(from, length) {
  const bays = Math.round(length / BAY);
  const bay = length / bays;
  return Array.from({ length: bays }, (_, i) => {
    const centre = from + bay * (i + 0.5);
    return { start: centre - WINDOW.width / 2, end: centre + WINDOW.width / 2, sill: WINDOW.sill, head: WINDOW.head };
  });
}

/** A pane in the middle of the wall's thickness filling `opening`. */
function pane({ axis, at, bottom }, { start, end, sill, head }) {
  return axis === 'x'
    ? box([start, bottom + sill, at - GLASS / 2], [end, bottom + head, at + GLASS / 2])
    : box([at - GLASS / 2, bottom + sill, start], [at + GLASS / 2, bottom + head, end]);
}

/** The building's parts: `{ name, material, boxes }`, in a fixed order. */
function buildingParts() {
  const x0 = -WIDTH / 2, x1 = WIDTH / 2, z0 = -DEPTH / 2, z1 = DEPTH / 2;
  const parts = [
    { name: 'site', material: 'lawn', boxes: [box([-14, -0.1, -10], [14, 0, 12])] },
    { name: 'plinth', material: 'concrete', boxes: [box([x0 - 0.3, 0, z0 - 0.3], [x1 + 0.3, PLINTH, z1 + 0.3])] },
  ];
  const wallHeight = STOREY_HEIGHT - SLAB;
  const doorStart = -DOOR.width / 2, doorEnd = DOOR.width / 2;
  for (let storey = 0; storey < STOREYS; storey++) {
    const bottom = PLINTH + storey * STOREY_HEIGHT;
    const walls = [
      { axis: 'x', from: x0, to: x1, at: z1 - WALL / 2, bottom, height: wallHeight },
      { axis: 'x', from: x0, to: x1, at: z0 + WALL / 2, bottom, height: wallHeight },
      { axis: 'z', from: z0 + WALL, to: z1 - WALL, at: x0 + WALL / 2, bottom, height: wallHeight },
      { axis: 'z', from: z0 + WALL, to: z1 - WALL, at: x1 - WALL / 2, bottom, height: wallHeight },
    ];
    const wallParts = [], glassParts = [];
    walls.forEach((wall, side) => {
      let openings = windows(wall.from, wall.to - wall.from);
      // The entrance: on the ground floor of the front, the middle bay is a door.
      if (storey === 0 && side === 0) {
        openings = openings.filter(({ end, start }) => end <= doorStart || start >= doorEnd);
        openings.push({ start: doorStart, end: doorEnd, sill: 0, head: DOOR.head });
        openings.sort((a, b) => a.start - b.start);
      }
      wallParts.push(...wallBoxes(wall, openings));
      glassParts.push(...openings.filter(({ sill }) => sill > 0).map((opening) => pane(wall, opening)));
    });
    const level = storey + 1;
    parts.push({ name: `walls-level-${level}`, material: 'render', boxes: wallParts });
    parts.push({ name: `glazing-level-${level}`, material: 'glass', boxes: glassParts });
    const slabTop = bottom + STOREY_HEIGHT;
    parts.push({
      name: level === STOREYS ? 'roof' : `slab-level-${level + 1}`,
      material: 'concrete',
      boxes: [box([x0 - 0.15, slabTop - SLAB, z0 - 0.15], [x1 + 0.15, slabTop, z1 + 0.15])],
    });
  }

  const roofTop = PLINTH + STOREYS * STOREY_HEIGHT;
  parts.push({
    name: 'parapet',
    material: 'concrete',
    boxes: [
      box([x0 - 0.15, roofTop, z1 - 0.05], [x1 + 0.15, roofTop + PARAPET, z1 + 0.15]),
      box([x0 - 0.15, roofTop, z0 - 0.15], [x1 + 0.15, roofTop + PARAPET, z0 + 0.05]),
      box([x0 - 0.15, roofTop, z0 + 0.05], [x0 + 0.05, roofTop + PARAPET, z1 - 0.05]),
      box([x1 - 0.05, roofTop, z0 + 0.05], [x1 + 0.15, roofTop + PARAPET, z1 - 0.05]),
    ],
  });
  parts.push({
    name: 'roof-plant',
    material: 'steel',
    boxes: [box([-6, roofTop, -3], [-2.5, roofTop + 1.6, 0.5]), box([2, roofTop, -4], [5, roofTop + 1.1, -2])],
  });
  parts.push({
    name: 'entrance-door',
    material: 'timber',
    boxes: [box([doorStart, PLINTH, z1 - WALL / 2 - 0.03], [doorEnd, PLINTH + DOOR.head, z1 - WALL / 2 + 0.03])],
  });
  parts.push({
    name: 'canopy',
    material: 'steel',
    boxes: [
      box([-2.2, PLINTH + 2.9, z1], [2.2, PLINTH + 3.05, z1 + 2.2]),
      box([-2.1, 0, z1 + 1.95], [-1.95, PLINTH + 2.9, z1 + 2.1]),
      box([1.95, 0, z1 + 1.95], [2.1, PLINTH + 2.9, z1 + 2.1]),
    ],
  });
  const rise = PLINTH / STEPS, tread = 0.35;
  parts.push({
    name: 'entrance-steps',
    material: 'concrete',
    boxes: Array.from({ length: STEPS }, (_, i) => box(
      [-1.6, 0, z1 + 0.3], [1.6, PLINTH - i * rise, z1 + 0.3 + tread * (i + 1)])),
  });
  return parts;
}

// ─── Geometry: boxes to indexed triangles with flat normals ──────────────────

/** Each face of a box: its outward normal and four corners (counter-clockwise seen from outside), as 0/1 picks of min/max per axis. */
const FACES = [
  { normal: [1, 0, 0], corners: [[1, 0, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]] },
  { normal: [-1, 0, 0], corners: [[0, 0, 0], [0, 0, 1], [0, 1, 1], [0, 1, 0]] },
  { normal: [0, 1, 0], corners: [[0, 1, 1], [1, 1, 1], [1, 1, 0], [0, 1, 0]] },
  { normal: [0, -1, 0], corners: [[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]] },
  { normal: [0, 0, 1], corners: [[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]] },
  { normal: [0, 0, -1], corners: [[1, 0, 0], [0, 0, 0], [0, 1, 0], [1, 1, 0]] },
];

/** Positions, normals (Float32Array) and indices (Uint16Array) for `boxes`. */
function triangulate(boxes) {
  const positions = [], normals = [], indices = [];
  for (const { min, max } of boxes) {
    for (const { normal, corners } of FACES) {
      const base = positions.length / 3;
      for (const pick of corners) {
        positions.push(...pick.map((p, axis) => (p ? max[axis] : min[axis])));
        normals.push(...normal);
      }
      indices.push(base, base + 1, base + 2, base, base + 2, base + 3);
    }
  }
  if (positions.length / 3 > 0xffff) throw new Error('a part has too many vertices for 16-bit indices');
  return { positions: new Float32Array(positions), normals: new Float32Array(normals), indices: new Uint16Array(indices) };
}

// ─── glTF 2.0 binary container ────────────────────────────────────────────────

const FLOAT = 5126;
const UNSIGNED_SHORT = 5123;
const ARRAY_BUFFER = 34962;
const ELEMENT_ARRAY_BUFFER = 34963;
const GLB_MAGIC = 0x46546c67; // "glTF"
const CHUNK_JSON = 0x4e4f534a; // "JSON"
const CHUNK_BIN = 0x004e4942; // "BIN\0"

/** Rounds to 6 decimals so the JSON is short and identical across runs. */
const round = (n) => Math.round(n * 1e6) / 1e6;

/** The GLB bytes of `parts` (see `buildingParts`). */
function encodeGlb(parts) {
  const chunks = [];
  let byteLength = 0;
  const bufferViews = [], accessors = [];
  /** Appends `array` to the BIN chunk (4-byte aligned) and returns its accessor index. */
  function addAccessor(array, { type, componentType, target, bounds }) {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    const padding = (4 - (bytes.length % 4)) % 4;
    bufferViews.push({ buffer: 0, byteOffset: byteLength, byteLength: bytes.length, target });
    chunks.push(bytes, new Uint8Array(padding));
    byteLength += bytes.length + padding;
    const count = type === 'VEC3' ? array.length / 3 : array.length;
    accessors.push({ bufferView: bufferViews.length - 1, componentType, count, type, ...bounds });
    return accessors.length - 1;
  }
  /** Per-axis minimum and maximum, which glTF requires for POSITION. */
  function bounds(positions) {
    const min = [Infinity, Infinity, Infinity], max = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < positions.length; i++) {
      min[i % 3] = Math.min(min[i % 3], positions[i]);
      max[i % 3] = Math.max(max[i % 3], positions[i]);
    }
    return { min: min.map(round), max: max.map(round) };
  }

  const materialIndex = new Map(MATERIALS.map((m, i) => [m.name, i]));
  const meshes = parts.map(({ name, material, boxes }) => {
    const { positions, normals, indices } = triangulate(boxes);
    return {
      name,
      primitives: [{
        attributes: {
          POSITION: addAccessor(positions, { type: 'VEC3', componentType: FLOAT, target: ARRAY_BUFFER, bounds: bounds(positions) }),
          NORMAL: addAccessor(normals, { type: 'VEC3', componentType: FLOAT, target: ARRAY_BUFFER }),
        },
        indices: addAccessor(indices, { type: 'SCALAR', componentType: UNSIGNED_SHORT, target: ELEMENT_ARRAY_BUFFER }),
        material: materialIndex.get(material),
      }],
    };
  });
  const gltf = {
    asset: { version: '2.0', generator: 'token-broker scripts/make-dev-model.mjs' },
    scene: 0,
    scenes: [{ name: 'dev-model', nodes: [0] }],
    nodes: [
      { name: 'building', children: parts.map((_, i) => i + 1) },
      ...parts.map(({ name }, i) => ({ name, mesh: i })),
    ],
    meshes,
    materials: MATERIALS.map(({ name, color, metallic, roughness, isTransparent }) => ({
      name,
      pbrMetallicRoughness: { baseColorFactor: color, metallicFactor: metallic, roughnessFactor: roughness },
      ...(isTransparent ? { alphaMode: 'BLEND', doubleSided: true } : {}),
    })),
    accessors,
    bufferViews,
    buffers: [{ byteLength }],
  };

  const json = Buffer.from(JSON.stringify(gltf), 'utf8');
  const jsonChunk = Buffer.concat([json, Buffer.alloc((4 - (json.length % 4)) % 4, 0x20)]);
  const binChunk = Buffer.concat(chunks);
  const header = Buffer.alloc(12);
  const total = 12 + 8 + jsonChunk.length + 8 + binChunk.length;
  header.writeUInt32LE(GLB_MAGIC, 0);
  header.writeUInt32LE(2, 4);
  header.writeUInt32LE(total, 8);
  const chunkHeader = (length, type) => {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(length, 0);
    h.writeUInt32LE(type, 4);
    return h;
  };
  return Buffer.concat([header, chunkHeader(jsonChunk.length, CHUNK_JSON), jsonChunk, chunkHeader(binChunk.length, CHUNK_BIN), binChunk]);
}

/** The demo model's GLB bytes. */
export function makeDevModel() {
  return encodeGlb(buildingParts());
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = resolve(process.argv[2] ?? MODEL_PATH);
  const glb = makeDevModel();
  writeFileSync(out, glb);
  console.error(`wrote ${out} (${glb.length} bytes)`);
}
