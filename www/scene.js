//! The WebGL viewer: three.js renders a glTF model in the viewport canvas, with
//! orbit, pan and zoom. Frames are drawn on demand (after a load, a resize or
//! a camera move), not in a loop, so an idle page costs no GPU or CPU time.
import { Box3, Color, DirectionalLight, HemisphereLight, PerspectiveCamera, Scene, Vector3, WebGLRenderer } from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

/** Where the camera looks from, relative to the model's centre (front-right, above). */
const VIEW_DIRECTION = new Vector3(0.9, 0.45, 1.25).normalize();

/** The bounding sphere overstates a flat model's extent; this much of its distance still shows all of the building. */
const SPHERE_SLACK = 0.7;

/** Whether this browser can draw WebGL 2, which three.js needs; asked without logging anything. */
export function hasWebGl() {
  try {
    return document.createElement('canvas').getContext('webgl2') !== null;
  } catch {
    return false;
  }
}

/**
 * A viewer drawing into `canvas`. `show(bytes)` parses GLB bytes, frames the
 * model and draws it; it resolves to `{ meshes: [names], triangles, drawn }`,
 * `drawn` being the triangles WebGL drew in that first frame.
 */
export function createScene(canvas) {
  const renderer = new WebGLRenderer({ canvas, antialias: true, alpha: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  const scene = new Scene();
  scene.add(new HemisphereLight(new Color(0xdfe9f5), new Color(0x3b3327), 1.6));
  const sun = new DirectionalLight(new Color(0xfff4e0), 2.2);
  sun.position.set(30, 45, 25);
  scene.add(sun);

  const camera = new PerspectiveCamera(35, 1, 0.1, 1000);
  const controls = new OrbitControls(camera, canvas);
  controls.maxPolarAngle = Math.PI * 0.49;

  let isFramePending = false;
  function requestFrame() {
    if (isFramePending) return;
    isFramePending = true;
    requestAnimationFrame(() => {
      isFramePending = false;
      renderer.render(scene, camera);
    });
  }
  controls.addEventListener('change', requestFrame);

  function resize() {
    const { width, height } = canvas.getBoundingClientRect();
    if (width === 0 || height === 0) return;
    renderer.setSize(width, height, false);
    camera.aspect = width / height;
    camera.updateProjectionMatrix();
    requestFrame();
  }
  new ResizeObserver(resize).observe(canvas);
  resize();

  /**
   * Points the camera at `object` from `VIEW_DIRECTION`, as close as keeps
   * its bounding sphere (a generous bound for a box seen from a corner) in
   * the narrower of the two fields of view.
   */
  function frame(object) {
    const bounds = new Box3().setFromObject(object);
    const centre = bounds.getCenter(new Vector3());
    const radius = bounds.getSize(new Vector3()).length() / 2;
    const halfFov = Math.min(camera.fov * Math.PI / 360, Math.atan(Math.tan(camera.fov * Math.PI / 360) * camera.aspect));
    const distance = (radius / Math.sin(halfFov)) * SPHERE_SLACK;
    camera.position.copy(centre).addScaledVector(VIEW_DIRECTION, distance);
    camera.near = distance / 100;
    camera.far = distance * 10;
    camera.updateProjectionMatrix();
    controls.target.copy(centre);
    controls.minDistance = radius * 0.5;
    controls.maxDistance = distance * 3;
    controls.update();
  }

  return {
    async show(bytes) {
      const gltf = await new GLTFLoader().parseAsync(bytes, '');
      const meshes = [];
      let triangles = 0;
      gltf.scene.traverse((object) => {
        if (!object.isMesh) return;
        meshes.push(object.name);
        const { index, attributes } = object.geometry;
        triangles += (index ? index.count : attributes.position.count) / 3;
      });
      scene.add(gltf.scene);
      frame(gltf.scene);
      renderer.render(scene, camera);
      return { meshes, triangles, drawn: renderer.info.render.triangles };
    },
  };
}
