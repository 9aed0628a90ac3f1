import { join } from 'node:path';
import { runCommand } from './exec.js';

/** `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from PATH. */
export function javaCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.JAVA_HOME ? join(env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** The major version of a Java runtime (8 for "1.8.0_…", 17 for "17.0.15"). */
export async function javaMajorVersion(java: string): Promise<number> {
  const output = await runCommand(java, ['-version']);
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!match) throw new Error(`cannot read the Java version from: ${output.trim()}`);
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}
