import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { isPortOpen, runCommand } from '../exec.js';
import { javaCommand, javaMajorVersion } from '../java.js';
import type { ServiceContext, ServiceDefinition } from '../service.js';

/** Keep in step with `kafka.version` in services/kafka/pom.xml. */
export const KAFKA_VERSION = '4.4.0';

const host = '127.0.0.1';
const port = 19092;
export const KAFKA_BOOTSTRAP = `${host}:${port}`;

/** Fixed: the run directory is emptied before every start, so each start formats afresh. */
const clusterId = 'Zmxvd3NlbnRyeS10ZXN0IQ'; // base64url of the 16 bytes "flowsentry-test!"
const heap = ['-Xms256m', '-Xmx512m'];

const configDir = (ctx: ServiceContext) => join(ctx.repoDir, 'services', 'kafka');

/** Directory of every jar the broker and Kafka's tools need; `<dir>/*` is the classpath. */
export function kafkaLibsDir(cacheDir: string): string {
  return join(cacheDir, 'libs');
}

/** Java classpath for `kafka.Kafka`, `kafka.tools.StorageTool` and `org.apache.kafka.tools.*Performance`. */
export function kafkaClasspath(cacheDir: string): string {
  return join(kafkaLibsDir(cacheDir), '*');
}

function log4jArg(ctx: ServiceContext): string {
  return `-Dlog4j2.configurationFile=${join(configDir(ctx), 'log4j2.yaml')}`;
}

/**
 * True when the broker answers a metadata request with itself as a live broker and its group
 * coordinator answers too. Asking about a group makes a fresh broker create and load
 * `__consumer_offsets` now, so the first consumer of a test does not crash on
 * COORDINATOR_LOAD_IN_PROGRESS and restart (which kafkajs logs as an error).
 */
async function brokerAnswers(timeoutMs: number): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'flowsentry-services-ready',
    brokers: [KAFKA_BOOTSTRAP],
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) return false;
    await admin.listTopics();
    await admin.describeGroups(['flowsentry-services-ready']);
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** One combined KRaft broker + controller from Maven Central jars, on 127.0.0.1:19092 (controller 19093). */
export const kafkaService: ServiceDefinition = {
  name: 'kafka',
  env: { KAFKA_BROKERS: KAFKA_BOOTSTRAP },

  async install(ctx) {
    const java = javaCommand();
    const major = await javaMajorVersion(java);
    if (major < 17) throw new Error(`Kafka ${KAFKA_VERSION} needs Java 17 or newer; ${java} is Java ${major}`);

    const pom = join(configDir(ctx), 'pom.xml');
    const wanted = `kafka ${KAFKA_VERSION} pom ${createHash('sha256').update(await readFile(pom)).digest('hex')}\n`;
    const libs = kafkaLibsDir(ctx.cacheDir);
    const marker = join(libs, '.installed');
    if (existsSync(marker) && (await readFile(marker, 'utf8')) === wanted) return;

    // Copy into a fresh directory and swap it in, so jars of another version never share the classpath.
    const staging = `${libs}.partial`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(ctx.cacheDir, { recursive: true });
    ctx.log(`fetching Kafka ${KAFKA_VERSION} jars from Maven Central`);
    await runCommand(process.env.MVN ?? 'mvn', [
      '-B',
      '-q',
      '-f',
      pom,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${staging}`,
      '-DincludeScope=runtime',
    ]);
    await writeFile(join(staging, '.installed'), wanted);
    await rm(libs, { recursive: true, force: true });
    await rename(staging, libs);
  },

  async prepare(ctx) {
    const java = javaCommand();
    const classpath = kafkaClasspath(ctx.cacheDir);
    const log4j = log4jArg(ctx);
    const dataDir = join(ctx.runDir, 'data');
    const properties = join(ctx.runDir, 'server.properties');
    const template = await readFile(join(configDir(ctx), 'server.properties'), 'utf8');
    await mkdir(dataDir, { recursive: true });
    await writeFile(properties, template.replaceAll('@DATA_DIR@', dataDir));

    ctx.log('formatting KRaft storage');
    // A one-shot JVM: the quick-starting compiler and collector save it about a second.
    await runCommand(java, [
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      log4j,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      '--cluster-id',
      clusterId,
      '--config',
      properties,
    ]);

    return {
      command: java,
      args: [
        ...heap,
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-Djava.awt.headless=true',
        log4j,
        '-cp',
        classpath,
        'kafka.Kafka',
        properties,
      ],
      cwd: ctx.runDir,
    };
  },

  async isReady() {
    if (!(await isPortOpen(host, port))) return false;
    return brokerAnswers(2000);
  },
};
