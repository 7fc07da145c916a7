//! The Kubernetes base in deploy/kubernetes/, checked offline: yamllint, the
//! Kubernetes schemas (kubernetes-validate, strict), and the properties the
//! deployment promises (probes, security context, secret as a file, Redis).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';

import { ROOT } from '../support/backend.mjs';
import { run } from './process.mjs';

const BASE = join(ROOT, 'deploy', 'kubernetes');

/** YAML documents of `path`, parsed by PyYAML (which yamllint brings). */
async function loadYaml(path) {
  const parsed = await run('python3', ['-c',
    'import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))', path]);
  assert.equal(parsed.code, 0, parsed.stderr);
  return JSON.parse(parsed.stdout);
}

let resources, byKind;

before(async () => {
  const [kustomization] = await loadYaml(join(BASE, 'kustomization.yaml'));
  resources = kustomization.resources;
  byKind = {};
  for (const file of resources) {
    for (const doc of await loadYaml(join(BASE, file))) byKind[`${doc.kind}/${doc.metadata.name}`] = doc;
  }
});

/** Every manifest in the folder is part of the base, and passes yamllint. */
test('manifests_are_listed_and_lint_clean', async () => {
  const files = readdirSync(BASE).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
  assert.deepEqual([...resources].sort(), files);
  const lint = await run('yamllint', ['--strict', BASE], { cwd: ROOT });
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
});

/** Each resource matches the Kubernetes API schema, unknown fields refused. */
test('manifests_match_the_kubernetes_schemas', async () => {
  const checked = await run('kubernetes-validate', ['--strict', '--quiet', ...resources], { cwd: BASE });
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
});

/** The broker's pod: probes on our routes, locked down, secret from a file, sized from BENCHMARKS.md. */
test('deployment_probes_secures_and_wires_the_broker', () => {
  const deployment = byKind['Deployment/token-backend'];
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.deepEqual(container.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  });
  const secretFile = container.env.find((e) => e.name === 'OAUTH_CLIENT_SECRET_FILE').value;
  const mount = container.volumeMounts.find((m) => secretFile.startsWith(`${m.mountPath}/`));
  const volume = pod.volumes.find((v) => v.name === mount.name);
  assert.ok(volume.secret?.secretName, 'the client secret comes from a Secret');
  assert.ok(!container.env.some((e) => e.name === 'OAUTH_CLIENT_SECRET'), 'never in the environment');
  assert.deepEqual(container.resources.limits, { cpu: '1', memory: '64Mi' });

  const settings = byKind['ConfigMap/token-backend'].data;
  const redisService = byKind['Service/token-backend-redis'];
  assert.match(settings.REDIS_URL, new RegExp(`^redis://${redisService.metadata.name}:${redisService.spec.ports[0].port}/`));
  assert.ok(deployment.spec.replicas >= 2, 'several replicas share the Redis');
});

/** Service, disruption budget and autoscaler all select or target the broker. */
test('service_budget_and_autoscaler_point_at_the_broker', () => {
  const labels = byKind['Deployment/token-backend'].spec.template.metadata.labels;
  for (const key of ['Service/token-backend', 'PodDisruptionBudget/token-backend']) {
    const selector = byKind[key].spec.selector.matchLabels ?? byKind[key].spec.selector;
    for (const [name, value] of Object.entries(selector)) assert.equal(labels[name], value, key);
  }
  const hpa = byKind['HorizontalPodAutoscaler/token-backend'];
  assert.equal(hpa.spec.scaleTargetRef.name, 'token-backend');
  assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
});
