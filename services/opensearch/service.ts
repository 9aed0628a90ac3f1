import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { isPortOpen, runCommand } from '../exec.js';
import { javaCommand, javaMajorVersion } from '../java.js';
import type { ServiceContext, ServiceDefinition } from '../service.js';

/** Keep in step with `opensearch.version` in services/opensearch/pom.xml (plugins for Java 17 stop at 2.19.6). */
export const OPENSEARCH_VERSION = '2.19.6';

const host = '127.0.0.1';
const port = 19200;
export const OPENSEARCH_URL = `http://${host}:${port}`;

const launcherMain = 'org.flowsentry.testservices.OpenSearchLauncher';
const heap = ['-Xms512m', '-Xmx1g'];

const serviceDir = (ctx: ServiceContext) => join(ctx.repoDir, 'services', 'opensearch');

/** Maven's build directory: `opensearch-launcher.jar` and `lib/*.jar` (the node and its plugins). */
export function openSearchBuildDir(cacheDir: string): string {
  return join(cacheDir, 'build');
}

/** Java classpath for the launcher: its jar, then every runtime jar. */
export function openSearchClasspath(cacheDir: string): string {
  const build = openSearchBuildDir(cacheDir);
  return [join(build, 'opensearch-launcher.jar'), join(build, 'lib', '*')].join(':');
}

async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files.sort();
}

/** Identifies a build: the version plus the contents of the pom and the launcher's sources. */
async function buildKey(ctx: ServiceContext): Promise<string> {
  const dir = serviceDir(ctx);
  const hash = createHash('sha256');
  for (const file of [join(dir, 'pom.xml'), ...(await filesUnder(join(dir, 'src')))]) {
    hash.update(relative(dir, file)).update('\0').update(await readFile(file)).update('\0');
  }
  return `opensearch ${OPENSEARCH_VERSION} sources ${hash.digest('hex')}\n`;
}

interface ClusterHealth {
  readonly status?: string;
}

interface ClusterSettings {
  readonly persistent?: Record<string, string>;
}

/**
 * Just after HTTP comes up, the launcher copies `cluster.default_number_of_replicas` (0, see
 * config/opensearch.yml) into the persistent cluster settings, since 2.19 ignores it in
 * opensearch.yml. Until then a new index would get a replica and stay yellow, so readiness waits for it.
 */
const replicaDefaultKey = 'cluster.default_number_of_replicas';

async function getJson<T>(path: string): Promise<T | undefined> {
  const response = await fetch(`${OPENSEARCH_URL}${path}`, { signal: AbortSignal.timeout(2000) });
  if (!response.ok) {
    await response.arrayBuffer();
    return undefined;
  }
  return (await response.json()) as T;
}

/** Settings of the node: the template in services/opensearch/config, with this run's directories. */
async function writeConfig(ctx: ServiceContext, configDir: string): Promise<void> {
  const template = await readFile(join(serviceDir(ctx), 'config', 'opensearch.yml'), 'utf8');
  await writeFile(
    join(configDir, 'opensearch.yml'),
    template.replaceAll('@DATA_DIR@', join(ctx.runDir, 'data')).replaceAll('@LOGS_DIR@', join(ctx.runDir, 'logs')),
  );
  await copyFile(join(serviceDir(ctx), 'config', 'log4j2.properties'), join(configDir, 'log4j2.properties'));
}

/**
 * One OpenSearch node (with transport-netty4, analysis-common, lang-painless, mapper-extras and
 * reindex) built from Maven Central jars and booted by a small launcher, on 127.0.0.1:19200
 * (transport 19300). No security plugin: loopback only.
 */
export const openSearchService: ServiceDefinition = {
  name: 'opensearch',
  env: { OPENSEARCH_URL },

  async install(ctx) {
    const java = javaCommand();
    const major = await javaMajorVersion(java);
    if (major < 17) throw new Error(`the OpenSearch launcher needs Java 17 or newer; ${java} is Java ${major}`);

    const wanted = await buildKey(ctx);
    const build = openSearchBuildDir(ctx.cacheDir);
    const marker = join(build, '.installed');
    if (existsSync(marker) && (await readFile(marker, 'utf8')) === wanted) return;

    // Build into a fresh directory and swap it in, so jars of another version never share the classpath.
    const staging = `${build}.partial`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(ctx.cacheDir, { recursive: true });
    ctx.log(`building the launcher and fetching OpenSearch ${OPENSEARCH_VERSION} jars from Maven Central`);
    // -DbuildDirectory keeps Maven's output (target/) out of the repository.
    await runCommand(process.env.MVN ?? 'mvn', [
      '-B',
      '-q',
      '-f',
      join(serviceDir(ctx), 'pom.xml'),
      `-DbuildDirectory=${staging}`,
      'package',
    ]);
    await writeFile(join(staging, '.installed'), wanted);
    await rm(build, { recursive: true, force: true });
    await rename(staging, build);
  },

  async prepare(ctx) {
    const configDir = join(ctx.runDir, 'config');
    const tmpDir = join(ctx.runDir, 'tmp');
    for (const dir of [configDir, tmpDir, join(ctx.runDir, 'data'), join(ctx.runDir, 'logs')]) {
      await mkdir(dir, { recursive: true });
    }
    await writeConfig(ctx, configDir);

    return {
      command: javaCommand(),
      args: [
        ...heap,
        '-XX:+UseG1GC',
        '-Xss1m',
        '-XX:-OmitStackTraceInFastThrow',
        '-Djava.awt.headless=true',
        '-Dfile.encoding=UTF-8',
        '-Djna.nosys=true',
        `-Djava.io.tmpdir=${tmpDir}`,
        // As the 2.x distribution's jvm.options: date parsing depends on the locale providers.
        '-Djava.locale.providers=SPI,COMPAT',
        // Netty's processor count is set once per JVM; let Netty pick it instead of OpenSearch.
        '-Dopensearch.set.netty.runtime.available.processors=false',
        '-Dio.netty.noUnsafe=true',
        '-Dio.netty.noKeySetOptimization=true',
        '-Dio.netty.recycler.maxCapacityPerThread=0',
        // The launcher stops Log4j itself after the node has closed.
        '-Dlog4j.shutdownHookEnabled=false',
        '-Dlog4j2.disable.jmx=true',
        `-Dopensearch.path.home=${ctx.runDir}`,
        '-cp',
        openSearchClasspath(ctx.cacheDir),
        launcherMain,
        configDir,
      ],
      cwd: ctx.runDir,
    };
  },

  async isReady() {
    if (!(await isPortOpen(host, port))) return false;
    try {
      const health = await getJson<ClusterHealth>('/_cluster/health');
      if (health?.status !== 'green' && health?.status !== 'yellow') return false;
      const settings = await getJson<ClusterSettings>(`/_cluster/settings?flat_settings=true&filter_path=persistent`);
      return settings?.persistent?.[replicaDefaultKey] !== undefined;
    } catch {
      return false;
    }
  },
};
