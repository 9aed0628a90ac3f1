import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { parseAllDocuments } from 'yaml';

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One HTTPS request to the API server with the bearer token, verifying it against the CA file. */
async function call(url: string, token: string, caFile: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Answer> {
  const ca = await readFile(caFile);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, url),
      {
        method,
        ca,
        timeout: 5_000,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** True once `/readyz` answers 200. Never throws. */
export async function kubernetesReady(url: string, token: string, caFile: string): Promise<boolean> {
  try {
    return (await call(url, token, caFile, 'GET', '/readyz')).status === 200;
  } catch {
    return false;
  }
}

interface CustomResourceDefinition {
  readonly kind?: string;
  readonly metadata?: { readonly name?: string };
  readonly status?: { readonly conditions?: readonly { readonly type: string; readonly status: string }[] };
}

/**
 * Applies the CustomResourceDefinitions in the given YAML files (server-side apply, so a second run
 * changes nothing) and waits until each is Established.
 */
export async function applyManifestFiles(url: string, token: string, caFile: string, files: readonly string[]): Promise<void> {
  const base = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  const names: string[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      const crd = doc.toJS() as CustomResourceDefinition | null;
      if (!crd) continue;
      const name = crd.metadata?.name;
      if (crd.kind !== 'CustomResourceDefinition' || !name) throw new Error(`${file}: only CustomResourceDefinitions are installed here, found ${crd.kind ?? 'a document without kind'}`);
      const answer = await call(url, token, caFile, 'PATCH', `${base}/${name}?fieldManager=flowsentry-services&force=true`, crd, 'application/apply-patch+yaml');
      if (answer.status >= 300) throw new Error(`${file}: applying ${name} answered ${answer.status}: ${answer.body.slice(0, 500)}`);
      names.push(name);
    }
  }
  for (const name of names) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const answer = await call(url, token, caFile, 'GET', `${base}/${name}`);
      const crd = JSON.parse(answer.body) as CustomResourceDefinition;
      if (crd.status?.conditions?.some((condition) => condition.type === 'Established' && condition.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
