import type { EnrichedFlow } from '../../schemas/types.js';
import type { Detection } from '../detection.js';
import type { DetectorState, StateTable } from '../detector-state.js';
import { alertEndsOf, isShortFlow, sampleOf, stableWorkloadOf } from '../flow-subject.js';
import type { DetectContext, Detector } from './detector.js';
import { isReplyDirection } from './reply-direction.js';

export interface LateralMovementConfig {
  /** Ports whose new edges always count: remote shells, file shares, the Kubernetes API, kubelet, etcd, databases. */
  readonly sensitivePorts: ReadonlySet<number>;
  /** A destination (workload and port) that this many source workloads use is a shared service: new clients of it are normal on other ports. */
  readonly sharedServiceSources: number;
  /** A source workload that talks to this many destination workloads fans out (a scraper, a mesh): its new edges are normal on other ports. */
  readonly fanOutDestinations: number;
  /** Edges not seen for this long are forgotten, milliseconds. */
  readonly edgeTtlMs: number;
  /** Edges and peers remembered per workload at most (oldest forgotten first). */
  readonly maxEdgesPerWorkload: number;
  /** New edges of one source entity within this long count towards one alert's severity, milliseconds. */
  readonly episodeMs: number;
}

/** A source workload's known edges: `<dest workload>|<proto>/<port>` → last seen. */
interface EdgesUnit {
  edges: Record<string, number>;
  last: number;
}

/** A destination's clients: source workload → last seen. */
interface PeersUnit {
  sources: Record<string, number>;
  last: number;
}

/** New edges of one source entity, recently. */
interface NovelUnit {
  edges: { edge: string; time: number; sensitive: boolean }[];
  last: number;
}

export const defaultSensitivePorts: readonly number[] = [
  22, 23, 135, 139, 445, 3389, 5985, 5986, // remote shells, SMB, RDP, WinRM
  443, 6443, 10250, 10255, 2379, 2380, // the Kubernetes API (as a Service, only its own), kubelet, etcd
  1433, 1521, 3306, 5432, 6379, 9042, 9200, 11211, 27017, // databases and stores
];

/** How far a last-seen time may lag before it is stored again (expiry is measured in days). */
const touchMs = 10 * 60_000;

/** Trims a record of name → last seen to its `max` most recent entries. */
function trim(record: Record<string, number>, max: number): void {
  const names = Object.keys(record);
  if (names.length <= max) return;
  names.sort((a, b) => record[a]! - record[b]! || (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names.slice(0, names.length - max)) delete record[name];
}

/**
 * lateral_movement: a workload-to-workload session (an allowed flow that carried more than a
 * probe) on an edge — stable workloads of both ends, and the port — never seen before, towards a
 * sensitive port or across namespaces. A rollout keeps the
 * workloads, so it adds no edge; a new client of a shared service (kube-dns) or a new target of
 * a fan-out source (Prometheus) on an ordinary port is normal. Every edge seen joins the
 * baseline, so one edge alerts once; severity grows with the new edges of one source entity.
 */
export class LateralMovementDetector implements Detector {
  readonly name = 'lateral_movement';
  private readonly edges: StateTable<EdgesUnit>;
  private readonly peers: StateTable<PeersUnit>;
  private readonly novel: StateTable<NovelUnit>;

  constructor(
    state: DetectorState,
    private readonly config: LateralMovementConfig,
  ) {
    this.edges = state.table<EdgesUnit>('lateral.edges', (unit) => unit.last);
    this.peers = state.table<PeersUnit>('lateral.peers', (unit) => unit.last);
    this.novel = state.table<NovelUnit>('lateral.novel', (unit) => unit.last);
  }

  /** The destination of an edge: a workload, a node, or a private address; public ones are not lateral. */
  private destOf(flow: EnrichedFlow): string | undefined {
    switch (flow.dest_type) {
      case 'wep':
        return `${flow.dest_namespace ?? ''}/${stableWorkloadOf(flow, 'dest')}`;
      case 'hep':
        return `hep:${flow.dest_name ?? flow.dest_ip ?? flow.dest_name_aggr}`;
      case 'net':
        return flow.dest_name_aggr === 'pvt' && flow.dest_ip ? `net:${flow.dest_ip}` : undefined;
      default:
        return undefined;
    }
  }

  private isSensitive(flow: EnrichedFlow): boolean {
    const port = flow.dest_port;
    if (port === null || port === undefined || !this.config.sensitivePorts.has(port)) return false;
    // 443 is everyone's HTTPS; it is sensitive only as the Kubernetes API's Service.
    return port !== 443 || (flow.dest_service_name === 'kubernetes' && flow.dest_service_namespace === 'default');
  }

  observe(flow: EnrichedFlow, context: DetectContext): Detection | undefined {
    // A session, not a probe: refused or near-empty flows are the scan detectors' business.
    if (flow.source_type !== 'wep' || flow.action !== 'allow' || isShortFlow(flow) || isReplyDirection(flow)) return undefined;
    const dest = this.destOf(flow);
    if (!dest) return undefined;
    const { source } = context;
    const port = `${flow.proto}/${flow.dest_port ?? '*'}`;
    const edge = `${dest}|${port}`;
    const time = flow.end_time;
    const known = this.edges.get(source.workload);
    const isNew = !known || known.edges[edge] === undefined;
    const peersKey = `${dest}|${port}`;
    const verdict = isNew && !context.learning ? this.judge(flow, known, peersKey) : undefined;
    this.remember(source.workload, edge, peersKey, time);
    if (!verdict) return undefined;
    const sensitive = verdict === 'sensitive';
    return this.detect(flow, source.entity, edge, sensitive);
  }

  /** Whether a new edge is lateral movement: towards a sensitive port, or across namespaces to a destination that is not a shared service from a source that does not fan out. */
  private judge(flow: EnrichedFlow, known: EdgesUnit | undefined, peersKey: string): 'sensitive' | 'cross-namespace' | undefined {
    if (this.isSensitive(flow)) return 'sensitive';
    const crossNamespace = flow.dest_type === 'wep' && (flow.dest_namespace ?? '') !== (flow.source_namespace ?? '');
    if (!crossNamespace) return undefined;
    const peers = this.peers.get(peersKey);
    if (peers && Object.keys(peers.sources).length >= this.config.sharedServiceSources) return undefined;
    if (known) {
      const destinations = new Set(Object.keys(known.edges).map((name) => name.slice(0, name.lastIndexOf('|'))));
      if (destinations.size >= this.config.fanOutDestinations) return undefined;
    }
    return 'cross-namespace';
  }

  /**
   * Records an edge and a peer. Last-seen times only matter for expiry (days), so a unit is
   * stored again — touched, and written to the changelog — only when something was added or its
   * time moved by `touchMs`: a busy edge costs no changelog traffic.
   */
  private remember(sourceWorkload: string, edge: string, peersKey: string, time: number): void {
    const edges = this.edges.get(sourceWorkload) ?? { edges: {}, last: Number.NEGATIVE_INFINITY };
    const seen = edges.edges[edge];
    if (seen === undefined || time - seen >= touchMs) {
      edges.edges[edge] = time;
      if (seen === undefined) trim(edges.edges, this.config.maxEdgesPerWorkload);
      edges.last = Math.max(edges.last, time);
      this.edges.touch(sourceWorkload, edges);
    }
    const peers = this.peers.get(peersKey) ?? { sources: {}, last: Number.NEGATIVE_INFINITY };
    const since = peers.sources[sourceWorkload];
    if (since === undefined || time - since >= touchMs) {
      peers.sources[sourceWorkload] = time;
      if (since === undefined) trim(peers.sources, this.config.maxEdgesPerWorkload);
      peers.last = Math.max(peers.last, time);
      this.peers.touch(peersKey, peers);
    }
  }

  private detect(flow: EnrichedFlow, entity: string, edge: string, sensitive: boolean): Detection {
    const time = flow.end_time;
    const novel = this.novel.get(entity) ?? { edges: [], last: 0 };
    novel.edges = novel.edges.filter((known) => known.time + this.config.episodeMs > time && known.edge !== edge);
    novel.edges.push({ edge, time, sensitive });
    novel.edges = novel.edges.slice(-50);
    novel.last = time;
    this.novel.touch(entity, novel);
    const count = novel.edges.length;
    const anySensitive = novel.edges.some((known) => known.sensitive);
    const severity = count >= 5 || (anySensitive && count >= 3) ? 'critical' : anySensitive || count >= 3 ? 'high' : 'medium';
    const ends = alertEndsOf(flow);
    return {
      detector: 'lateral_movement',
      identity: [entity],
      severity,
      windowStart: novel.edges[0]!.time,
      time,
      ends,
      summary: `${entity} opened a new edge to ${edge.replace('|', ' on ')}${sensitive ? ' (sensitive port)' : ' (across namespaces)'}; ${count} new edge${count === 1 ? '' : 's'} recently`,
      evidence: {
        new_edges: String(count),
        edges: novel.edges.map((known) => known.edge).join(','),
        sensitive: String(anySensitive),
        action: flow.action,
      },
      count,
      magnitude: count,
      samples: [sampleOf(flow)],
    };
  }

  closeUpTo(watermark: number): void {
    this.edges.takeDue((unit) => unit.last + this.config.edgeTtlMs <= watermark);
    this.peers.takeDue((unit) => unit.last + this.config.edgeTtlMs <= watermark);
    this.novel.takeDue((unit) => unit.last + this.config.episodeMs <= watermark);
  }
}
