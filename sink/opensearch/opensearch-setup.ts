/**
 * What the sink puts in place before it writes, and the retention it keeps.
 *
 * - `putIndexTemplates` writes one composable index template per record kind (idempotent: the
 *   same body again changes nothing).
 * - Retention: with the Index State Management plugin (Amazon OpenSearch Service and the full
 *   OpenSearch distribution have it), `applyRetention` puts one ISM policy per kind that deletes
 *   its indices after the configured days and attaches itself to new indices. Without the plugin
 *   (a minimal node), it deletes the expired indices itself — whole days or months past the
 *   retention, read from the index names — and the sink runs it again every hour.
 */
import type { Client } from '@opensearch-project/opensearch';
import { sinkRecordKinds, type SinkRecordKind } from '../outlet.js';
import { defaultIndexNaming, indexPatternOf, indexPeriodOf, type IndexNaming } from './documents.js';
import { defaultTemplateSettings, indexTemplateOf, retentionPolicyOf, templateNameOf, type TemplateSettings } from './index-templates.js';

const day = 24 * 3600 * 1000;

/** Days each kind is kept. */
export type RetentionDays = Readonly<Record<SinkRecordKind, number>>;

export const defaultRetentionDays: RetentionDays = { flow: 14, alert: 365, action: 365 };

export async function putIndexTemplates(client: Client, settings: TemplateSettings = defaultTemplateSettings, naming: IndexNaming = defaultIndexNaming): Promise<void> {
  for (const kind of sinkRecordKinds) {
    await client.indices.putIndexTemplate({ name: templateNameOf(kind, naming), body: indexTemplateOf(kind, settings, naming) as never });
  }
}

/** Whether the cluster runs the Index State Management plugin. */
export async function hasIndexStateManagement(client: Client): Promise<boolean> {
  const response = await client.cat.plugins({ format: 'json' });
  const plugins = response.body as unknown as readonly { component?: string }[];
  return plugins.some((plugin) => plugin.component === 'opensearch-index-management');
}

/** The indices of a kind whose whole period ended more than `days` before `now`. Pure. */
export function expiredIndices(kind: SinkRecordKind, indices: readonly string[], now: number, days: number, naming: IndexNaming = defaultIndexNaming): string[] {
  const cutoff = now - days * day;
  return indices.filter((index) => {
    const period = indexPeriodOf(kind, index, naming);
    return period !== undefined && period.end <= cutoff;
  });
}

/** Deletes the expired indices of every kind; returns their names. */
export async function deleteExpiredIndices(client: Client, now: number, days: RetentionDays = defaultRetentionDays, naming: IndexNaming = defaultIndexNaming): Promise<string[]> {
  const deleted: string[] = [];
  for (const kind of sinkRecordKinds) {
    const response = await client.cat.indices({ index: indexPatternOf(kind, naming), format: 'json', h: 'index' } as never);
    const names = (response.body as unknown as readonly { index: string }[]).map((row) => row.index);
    const expired = expiredIndices(kind, names, now, days[kind], naming);
    for (let i = 0; i < expired.length; i += 50) {
      const slice = expired.slice(i, i + 50);
      await client.indices.delete({ index: slice.join(','), ignore_unavailable: true } as never);
      deleted.push(...slice);
    }
  }
  return deleted;
}

/** Puts (or updates) the ISM retention policy of every kind. */
export async function putRetentionPolicies(client: Client, days: RetentionDays = defaultRetentionDays, naming: IndexNaming = defaultIndexNaming): Promise<void> {
  for (const kind of sinkRecordKinds) {
    const path = `/_plugins/_ism/policies/${encodeURIComponent(templateNameOf(kind, naming))}`;
    const body = retentionPolicyOf(kind, days[kind], naming);
    const existing = await client.transport.request({ method: 'GET', path }, { ignore: [404] });
    const current = existing.body as { _seq_no?: number; _primary_term?: number } | undefined;
    const querystring = existing.statusCode === 200 && current?._seq_no !== undefined ? { if_seq_no: current._seq_no, if_primary_term: current._primary_term } : {};
    // Two sinks starting at once may both find it missing: the one that loses the race finds it made (409).
    await client.transport.request({ method: 'PUT', path, querystring, body }, { ignore: [409] });
  }
}

export type RetentionMode = 'ism' | 'deletion-job';

/** ISM policies when the cluster has the plugin, else one run of the deletion job. */
export async function applyRetention(client: Client, now: number, days: RetentionDays = defaultRetentionDays, naming: IndexNaming = defaultIndexNaming): Promise<RetentionMode> {
  if (await hasIndexStateManagement(client)) {
    await putRetentionPolicies(client, days, naming);
    return 'ism';
  }
  await deleteExpiredIndices(client, now, days, naming);
  return 'deletion-job';
}
