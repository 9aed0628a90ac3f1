/**
 * The JSON merge patches that put a pod under quarantine and take it out again. Every value is
 * absolute (a label set to a value or to null), so the same patch applied twice gives the same
 * pod. Each patch also carries the resourceVersion it was built from: the API refuses it (409)
 * when the pod changed in between, and the responder reads the pod again — the networkpolicy
 * backend must never take away labels it has not recorded.
 */
import type { PodFacts } from './pod-facts.js';
import type { QuarantineBackend } from './response-policy.js';
import { QUARANTINE_LABEL, quarantineAnnotations as notes } from './quarantine-names.js';

export interface PodMergePatch {
  readonly metadata: {
    readonly resourceVersion: string;
    readonly labels: Readonly<Record<string, string | null>>;
    readonly annotations: Readonly<Record<string, string | null>>;
  };
}

export interface QuarantineMarks {
  readonly id: string;
  readonly alertId: string;
  readonly backend: QuarantineBackend;
  readonly appliedAt: number;
  readonly expiresAt: number;
}

const rfc3339 = (time: number) => new Date(time).toISOString();

/**
 * Label and annotations of a quarantine. The networkpolicy backend also removes every other
 * label, so that no other NetworkPolicy (which could only add allows) and no Service selects the
 * pod, and records them in `original-labels`.
 */
export function quarantinePatch(pod: PodFacts, marks: QuarantineMarks): PodMergePatch {
  const labels: Record<string, string | null> = {};
  const annotations: Record<string, string | null> = {
    [notes.alertId]: marks.alertId,
    [notes.backend]: marks.backend,
    [notes.appliedAt]: rfc3339(marks.appliedAt),
    [notes.expiresAt]: rfc3339(marks.expiresAt),
    [notes.released]: null,
  };
  if (marks.backend === 'networkpolicy') {
    const original = Object.fromEntries(Object.entries(pod.labels).filter(([key]) => key !== QUARANTINE_LABEL));
    for (const key of Object.keys(original)) labels[key] = null;
    annotations[notes.originalLabels] = JSON.stringify(original);
  }
  labels[QUARANTINE_LABEL] = marks.id;
  return { metadata: { resourceVersion: pod.resourceVersion, labels, annotations } };
}

/** The original labels a networkpolicy quarantine recorded, or undefined when the record is missing or unreadable. */
export function originalLabelsOf(pod: PodFacts): Record<string, string> | undefined {
  const text = pod.annotations[notes.originalLabels];
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const entries = Object.entries(value as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
    return Object.fromEntries(entries);
  } catch {
    return undefined;
  }
}

/**
 * Lifts a quarantine: the label and annotations go, the original labels come back (networkpolicy),
 * and `released` keeps the id so the same alert does not quarantine the pod again. `restored` is
 * false when labels were taken but their record is missing or unreadable.
 */
export function releasePatch(pod: PodFacts): { patch: PodMergePatch; restored: boolean | undefined } {
  const id = pod.labels[QUARANTINE_LABEL];
  const labels: Record<string, string | null> = { [QUARANTINE_LABEL]: null };
  // Whatever the backend annotation says, a record of taken labels means labels were taken.
  const recorded = pod.annotations[notes.originalLabels] !== undefined;
  let restored: boolean | undefined;
  if (recorded || pod.annotations[notes.backend] === 'networkpolicy') {
    const original = originalLabelsOf(pod);
    restored = original !== undefined;
    Object.assign(labels, original ?? {});
  }
  const annotations: Record<string, string | null> = {
    [notes.alertId]: null,
    [notes.backend]: null,
    [notes.appliedAt]: null,
    [notes.expiresAt]: null,
    [notes.originalLabels]: null,
    [notes.released]: id ?? null,
  };
  return { patch: { metadata: { resourceVersion: pod.resourceVersion, labels, annotations } }, restored };
}
