import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../exec.js';
import { cacheRoot } from '../paths.js';
import type { ServiceContext, ServiceDefinition } from '../service.js';
import { applyManifestFiles, kubernetesReady } from './api.js';

/** The Kubernetes release whose kube-apiserver the tests run, built from source. */
export const KUBERNETES_VERSION = '1.37.2';
/** etcd, built from its server module. Kubernetes 1.37 asks for 3.6 or newer. */
export const ETCD_VERSION = '3.6.16';

const host = '127.0.0.1';
const apiPort = 26443;
const etcdPort = 23379;
const etcdPeerPort = 23380;

export const KUBERNETES_URL = `https://${host}:${apiPort}`;
/** etcd's client URL, for tests that act on the store itself (compaction). */
export const KUBERNETES_ETCD_URL = `http://${host}:${etcdPort}`;
/** A cluster-admin bearer token for the tests. Loopback only; never used outside the test cluster. */
export const KUBERNETES_ADMIN_TOKEN = 'flowsentry-test-admin-token';
const runDir = join(cacheRoot(), 'run', 'kubernetes');
export const KUBERNETES_CA_FILE = join(runDir, 'pki', 'ca.crt');

/** Kubernetes 1.37's go.mod asks for this Go; the module proxy serves no toolchains to fetch a newer one. */
const MINIMUM_GO = [1, 26] as const;

async function goVersion(): Promise<string> {
  let version: string;
  try {
    version = (await runCommand('go', ['env', 'GOVERSION'])).trim();
  } catch (error) {
    throw new Error(`kubernetes: the test API server is built from source and needs Go ≥ ${MINIMUM_GO.join('.')} on PATH: ${(error as Error).message}`);
  }
  const [major = 0, minor = 0] = (/^go(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  if (major < MINIMUM_GO[0] || (major === MINIMUM_GO[0] && minor < MINIMUM_GO[1])) {
    throw new Error(`kubernetes: ${version} is too old to build kube-apiserver ${KUBERNETES_VERSION}: Go ≥ ${MINIMUM_GO.join('.')} is needed`);
  }
  return version;
}

/** Versions and the Go toolchain name the binaries: a change of either builds anew. */
async function binDir(ctx: ServiceContext): Promise<string> {
  return join(ctx.cacheDir, `bin-k8s${KUBERNETES_VERSION}-etcd${ETCD_VERSION}-${await goVersion()}`);
}

function goEnv(ctx: ServiceContext): Record<string, string> {
  const go = join(ctx.cacheDir, 'go');
  return {
    GOMODCACHE: join(go, 'mod'),
    GOCACHE: join(go, 'build'),
    GOPATH: join(go, 'path'),
    GOTMPDIR: join(go, 'tmp'),
    GOFLAGS: '-buildvcs=false -mod=mod',
    // The module proxy serves modules, not toolchains: build with the Go that is installed.
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
  };
}

interface GoModEdit {
  readonly Require?: readonly { readonly Path: string }[];
  readonly Replace?: readonly { readonly Old: { readonly Path: string }; readonly New: { readonly Path: string } }[];
}

/**
 * kube-apiserver from the `k8s.io/kubernetes` module, built inside its own module directory so its
 * `replace` directives apply. The proxy's zip leaves out the nested `staging/` modules its replaces
 * point at, so each is pointed at the published `k8s.io/<name>` module of the same release.
 */
async function buildApiServer(ctx: ServiceContext, out: string, env: Record<string, string>): Promise<void> {
  const module = `k8s.io/kubernetes@v${KUBERNETES_VERSION}`;
  ctx.log(`downloading ${module} from the Go module proxy`);
  const downloaded = JSON.parse(await runCommand('go', ['mod', 'download', '-json', module], { env })) as { Dir: string };
  const src = join(ctx.cacheDir, `src-kubernetes-${KUBERNETES_VERSION}`);
  await rm(src, { recursive: true, force: true });
  await cp(downloaded.Dir, src, { recursive: true });
  await runCommand('chmod', ['-R', 'u+w', src]);
  await rm(join(src, 'go.work'), { force: true });
  await rm(join(src, 'go.work.sum'), { force: true });
  const mod = JSON.parse(await runCommand('go', ['mod', 'edit', '-json'], { cwd: src, env })) as GoModEdit;
  const required = new Set((mod.Require ?? []).map((entry) => entry.Path));
  const staging = `v0.${KUBERNETES_VERSION.split('.').slice(1).join('.')}`;
  const edits = (mod.Replace ?? [])
    .filter((entry) => entry.New.Path.startsWith('./staging/'))
    .map(({ Old: { Path: path } }) => (required.has(path) ? `-replace=${path}=${path}@${staging}` : `-dropreplace=${path}`));
  await runCommand('go', ['mod', 'edit', ...edits], { cwd: src, env });
  const [major, minor] = KUBERNETES_VERSION.split('.');
  const version = `v${KUBERNETES_VERSION}`;
  const ldflags = [
    '-s -w',
    `-X k8s.io/component-base/version.gitVersion=${version}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    `-X k8s.io/component-base/version.gitTreeState=clean`,
    `-X k8s.io/client-go/pkg/version.gitVersion=${version}`,
  ].join(' ');
  ctx.log('building kube-apiserver (about 12 minutes and 2.4 GB of memory on 2 cores, once)');
  await runCommand('nice', ['-n', '10', 'go', 'build', '-trimpath', '-ldflags', ldflags, '-o', join(out, 'kube-apiserver'), './cmd/kube-apiserver'], {
    cwd: src,
    env,
  });
  await rm(src, { recursive: true, force: true });
}

/** etcd from a one-file module that calls etcd's own main: `go install` refuses its replaces. */
async function buildEtcd(ctx: ServiceContext, out: string, env: Record<string, string>): Promise<void> {
  const src = join(ctx.cacheDir, `src-etcd-${ETCD_VERSION}`);
  await rm(src, { recursive: true, force: true });
  await mkdir(src, { recursive: true });
  await writeFile(
    join(src, 'main.go'),
    'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n',
  );
  await writeFile(join(src, 'go.mod'), `module flowsentry.test/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 v${ETCD_VERSION}\n`);
  ctx.log(`building etcd ${ETCD_VERSION}`);
  await runCommand('go', ['mod', 'tidy'], { cwd: src, env });
  await runCommand('nice', ['-n', '10', 'go', 'build', '-trimpath', '-ldflags', '-s -w', '-o', join(out, 'etcd'), '.'], { cwd: src, env });
  await rm(src, { recursive: true, force: true });
}

/** A CA, and a serving certificate for 127.0.0.1 signed by it, so clients verify the server. */
async function makePki(pki: string): Promise<void> {
  await mkdir(pki, { recursive: true });
  const openssl = (...args: string[]) => runCommand('openssl', args, { cwd: pki });
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=flowsentry-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kube-apiserver', '-keyout', 'apiserver.key', '-out', 'apiserver.csr');
  await writeFile(join(pki, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n');
  await openssl('x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-extfile', 'san.ext', '-out', 'apiserver.crt');
  await openssl('genrsa', '-out', 'service-account.key', '2048');
  await openssl('rsa', '-in', 'service-account.key', '-pubout', '-out', 'service-account.pub');
  await writeFile(join(pki, 'tokens.csv'), `${KUBERNETES_ADMIN_TOKEN},flowsentry-test-admin,flowsentry-test-admin,system:masters\n`);
}

/**
 * A real Kubernetes control plane for the tests: etcd and kube-apiserver on loopback, with token
 * authentication and RBAC on. No controller-manager and no scheduler run, so pods stay Pending
 * and nothing creates ServiceAccounts or EndpointSlices on its own; the tests create what they need.
 * The two binaries are built from source once and kept under the cache directory.
 */
export const kubernetesService: ServiceDefinition = {
  name: 'kubernetes',
  env: {
    KUBERNETES_URL,
    KUBERNETES_TOKEN: KUBERNETES_ADMIN_TOKEN,
    KUBERNETES_CA_FILE,
    KUBERNETES_ETCD_URL,
  },

  async install(ctx) {
    const bin = await binDir(ctx);
    if (existsSync(join(bin, 'kube-apiserver')) && existsSync(join(bin, 'etcd'))) return;
    const env = goEnv(ctx);
    for (const dir of [env.GOMODCACHE!, env.GOCACHE!, env.GOTMPDIR!]) await mkdir(dir, { recursive: true });
    const partial = `${bin}.partial`;
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    await buildApiServer(ctx, partial, env);
    await buildEtcd(ctx, partial, env);
    await rename(partial, bin);
    // The compile cache (about 3 GB) only speeds up a rebuild of the same release: not worth keeping.
    await runCommand('chmod', ['-R', 'u+w', env.GOCACHE!]);
    await rm(env.GOCACHE!, { recursive: true, force: true });
    for (const old of await readdir(ctx.cacheDir)) {
      if (old.startsWith('bin-') && join(ctx.cacheDir, old) !== bin) await rm(join(ctx.cacheDir, old), { recursive: true, force: true });
    }
  },

  async prepare(ctx) {
    const bin = await binDir(ctx);
    const pki = join(ctx.runDir, 'pki');
    await makePki(pki);
    const etcd = [
      join(bin, 'etcd'),
      '--name=flowsentry-test',
      `--data-dir=${join(ctx.runDir, 'etcd')}`,
      `--listen-client-urls=http://${host}:${etcdPort}`,
      `--advertise-client-urls=http://${host}:${etcdPort}`,
      `--listen-peer-urls=http://${host}:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://${host}:${etcdPeerPort}`,
      `--initial-cluster=flowsentry-test=http://${host}:${etcdPeerPort}`,
      '--log-level=warn',
      // Tests churn a few thousand objects at most: a small WAL and quota are plenty.
      '--quota-backend-bytes=1073741824',
    ];
    const apiserver = [
      join(bin, 'kube-apiserver'),
      `--etcd-servers=http://${host}:${etcdPort}`,
      `--bind-address=${host}`,
      `--secure-port=${apiPort}`,
      `--advertise-address=${host}`,
      // A loopback advertise address is refused by the default endpoint reconciler.
      '--endpoint-reconciler-type=none',
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--client-ca-file=${join(pki, 'ca.crt')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(pki, 'service-account.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'service-account.key')}`,
      `--token-auth-file=${join(pki, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--anonymous-auth=false',
      '--service-cluster-ip-range=10.96.0.0/12',
      '--watch-cache=true',
      // Services are read straight from etcd, so a watch from a resourceVersion etcd compacted away is
      // answered 410 Gone at once (the inventory test provokes one). A cached kind answers 410 only once its
      // watch cache drops the position, and that cache keeps every event of the last 75 seconds.
      '--watch-cache-sizes=services#0',
    ];
    const script = join(ctx.runDir, 'start.sh');
    await writeFile(
      script,
      [
        '#!/usr/bin/env bash',
        '# etcd, then kube-apiserver once etcd answers; one process group, stopped together.',
        'set -euo pipefail',
        `${etcd.map(quote).join(' ')} &`,
        `for _ in $(seq 600); do (exec 3<>/dev/tcp/${host}/${etcdPort}) 2>/dev/null && break; sleep 0.1; done`,
        `exec ${apiserver.map(quote).join(' ')}`,
        '',
      ].join('\n'),
    );
    await chmod(script, 0o755);
    return { command: script, args: [] };
  },

  isReady() {
    return kubernetesReady(KUBERNETES_URL, KUBERNETES_ADMIN_TOKEN, KUBERNETES_CA_FILE);
  },

  async afterReady(ctx) {
    const fixtures = join(ctx.repoDir, 'services', 'kubernetes', 'crds');
    const files = existsSync(fixtures) ? (await readdir(fixtures)).filter((name) => name.endsWith('.yaml')).sort() : [];
    await applyManifestFiles(
      KUBERNETES_URL,
      KUBERNETES_ADMIN_TOKEN,
      KUBERNETES_CA_FILE,
      files.map((name) => join(fixtures, name)),
    );
    if (files.length > 0) ctx.log(`installed CRDs: ${files.join(', ')}`);
  },
};

function quote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}
