import { readFileSync } from 'node:fs';
import { parseCidr } from '../enrich/addresses.js';
import { defaultAggregationLevels, parseAggregationLevel } from '../enrich/aggregation.js';
import { defaultGraceMs, type EnrichCoreOptions } from '../enrich/enrich-core.js';

/** The options `enrich` and `replay` share, for parseArgs. */
export const enrichArgOptions = {
  grace: { type: 'string' },
  'allowed-level': { type: 'string' },
  'denied-level': { type: 'string' },
  network: { type: 'string', multiple: true },
  'networks-file': { type: 'string', multiple: true },
  'cluster-cidr': { type: 'string', multiple: true },
  retention: { type: 'string' },
} as const;

export const enrichOptionsUsage = `  --grace SECONDS          how long a flow waits for the inventory to show an address (default ${defaultGraceMs / 1000})
  --allowed-level N        aggregation of allowed flows: 0 none, 1 source ports, 2 also addresses by
                           aggregated name (default), 3 also destination ports
  --denied-level N         aggregation of denied flows (default ${defaultAggregationLevels.denied})
  --network NAME=CIDR,...  a named network set (repeatable): such addresses are 'net' with that name
  --networks-file FILE     named networks from JSON: {"name": ["cidr", ...]}, or AWS ip-ranges.json (as 'aws')
  --cluster-cidr CIDR      pod, node and service ranges the inventory should know (repeatable;
                           default the private ranges)
  --retention SECONDS      how long ended claims on addresses are kept`;

type Values = { [K in keyof typeof enrichArgOptions]?: (typeof enrichArgOptions)[K] extends { multiple: true } ? string[] : string };

function seconds(text: string | undefined, option: string, problems: string[]): number | undefined {
  if (text === undefined) return undefined;
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (!(Number.isFinite(value) && value >= 0)) {
    problems.push(`${option}: '${text}' is not a number of seconds`);
    return undefined;
  }
  return value * 1000;
}

/** Named networks from a JSON file: a map of names to CIDR lists, or AWS's ip-ranges.json. */
export function networksFromJson(text: string, file: string): Record<string, string[]> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${file}: not JSON: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: expected a JSON object of network names, or AWS ip-ranges.json`);
  if (Array.isArray(json['prefixes'])) {
    const v4 = (json['prefixes'] as { ip_prefix?: string }[]).map((entry) => entry.ip_prefix);
    const v6 = ((json['ipv6_prefixes'] ?? []) as { ipv6_prefix?: string }[]).map((entry) => entry.ipv6_prefix);
    return { aws: [...v4, ...v6].filter((cidr): cidr is string => typeof cidr === 'string') };
  }
  const networks: Record<string, string[]> = {};
  for (const [name, cidrs] of Object.entries(json)) {
    if (!Array.isArray(cidrs) || !cidrs.every((cidr) => typeof cidr === 'string')) throw new Error(`${file}: '${name}' is not a list of CIDR blocks`);
    networks[name] = cidrs as string[];
  }
  return networks;
}

/** Every problem with the shared options, each naming its option, and the options when there is none. */
export function enrichCoreOptionsOf(values: Values, problems: string[]): EnrichCoreOptions {
  const levelOf = (text: string | undefined, option: string, fallback: 0 | 1 | 2 | 3) => {
    if (text === undefined) return fallback;
    try {
      return parseAggregationLevel(text, option);
    } catch (error) {
      problems.push((error as Error).message);
      return fallback;
    }
  };
  const networks: Record<string, string[]> = {};
  for (const file of values['networks-file'] ?? []) {
    try {
      for (const [name, cidrs] of Object.entries(networksFromJson(readFileSync(file, 'utf8'), file))) networks[name] = [...(networks[name] ?? []), ...cidrs];
    } catch (error) {
      problems.push(`--networks-file: ${(error as Error).message}`);
    }
  }
  for (const entry of values.network ?? []) {
    const [name, list] = entry.split('=', 2);
    if (!name || !list) {
      problems.push(`--network: '${entry}' is not NAME=CIDR[,CIDR...]`);
      continue;
    }
    networks[name] = [...(networks[name] ?? []), ...list.split(',')];
  }
  const checkCidrs = (cidrs: readonly string[], option: string) => {
    for (const cidr of cidrs) {
      try {
        parseCidr(cidr);
      } catch (error) {
        problems.push(`${option}: ${(error as Error).message}`);
      }
    }
  };
  for (const [name, cidrs] of Object.entries(networks)) checkCidrs(cidrs, `network '${name}'`);
  checkCidrs(values['cluster-cidr'] ?? [], '--cluster-cidr');
  const graceMs = seconds(values.grace, '--grace', problems);
  const retentionMs = seconds(values.retention, '--retention', problems);
  if (retentionMs !== undefined && !(retentionMs > (graceMs ?? defaultGraceMs))) {
    problems.push(`--retention: ${values.retention} s keeps ended claims no longer than the grace; give more`);
  }
  return {
    levels: {
      allowed: levelOf(values['allowed-level'], '--allowed-level', defaultAggregationLevels.allowed),
      denied: levelOf(values['denied-level'], '--denied-level', defaultAggregationLevels.denied),
    },
    networks,
    ...(values['cluster-cidr'] ? { clusterCidrs: values['cluster-cidr'] } : {}),
    ...(graceMs !== undefined ? { graceMs } : {}),
    ...(retentionMs !== undefined ? { retentionMs } : {}),
  };
}
