import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { indexPatternOf, indexWords } from '../../../sink/opensearch/documents.js';
import { mappingsOf } from '../../../sink/opensearch/index-templates.js';
import { sinkRecordKinds, type SinkRecordKind } from '../../../sink/outlet.js';

const file = new URL('../../../sink/dashboards/flowsentry.ndjson', import.meta.url);

interface Reference {
  readonly name: string;
  readonly type: string;
  readonly id: string;
}

interface SavedObject {
  readonly type: string;
  readonly id: string;
  readonly attributes: Record<string, unknown>;
  readonly references: readonly Reference[];
}

type Mapping = Record<string, unknown>;

/** Types a terms, metric or date histogram aggregation (and a sort) can run on. */
const aggregatableTypes = new Set(['keyword', 'ip', 'long', 'integer', 'date']);
const INDEX_REF = 'kibanaSavedObjectMeta.searchSourceJSON.index';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every line of the file as a saved object; a line that is not one throws, naming the line. */
function parseNdjson(text: string): SavedObject[] {
  assert.ok(text.endsWith('\n'), 'the file ends with a newline');
  return text
    .slice(0, -1)
    .split('\n')
    .map((line, i) => {
      const where = `line ${i + 1}`;
      let value: unknown;
      assert.doesNotThrow(() => (value = JSON.parse(line)), `${where} is JSON`);
      assert.ok(isObject(value), `${where} is a JSON object`);
      assert.equal(typeof value.type, 'string', `${where} has a type`);
      assert.equal(typeof value.id, 'string', `${where} has an id`);
      assert.ok(isObject(value.attributes), `${where} has attributes`);
      assert.ok(value.references === undefined || Array.isArray(value.references), `${where}: references is a list`);
      return { ...(value as unknown as SavedObject), references: (value.references as Reference[] | undefined) ?? [] };
    });
}

/** The mapping of a (dotted) field in a kind's index template, through `properties` and multi-`fields`. */
function mappingOf(kind: SinkRecordKind, field: string): Mapping | undefined {
  let level: Record<string, unknown> | undefined = mappingsOf[kind];
  let found: Mapping | undefined;
  for (const part of field.split('.')) {
    const next: unknown = level?.[part];
    if (!isObject(next)) return undefined;
    found = next;
    level = isObject(next.properties) ? next.properties : isObject(next.fields) ? next.fields : undefined;
  }
  return found;
}

/** Why a field cannot be used (`aggregated`: in an aggregation or a sort), or undefined when it can. */
function fieldProblem(kind: SinkRecordKind, field: string, aggregated: boolean): string | undefined {
  const mapping = mappingOf(kind, field);
  if (!mapping) return `${field} is not in the ${kind} mappings`;
  const type = mapping.type;
  if (typeof type !== 'string' || type === 'object' || mapping.enabled === false) return `${field} is not an indexed field of ${kind} (${String(type)})`;
  if (aggregated && !aggregatableTypes.has(type)) return `${field} is ${type} in the ${kind} mappings, which cannot be aggregated`;
  return undefined;
}

/**
 * The fields a KQL query names. Only the simple form the file uses is understood: `field:value`
 * terms joined by and/or, optionally negated or in parentheses; anything else is a problem
 * rather than skipped.
 */
function queryFields(query: string): { fields: string[]; problems: string[] } {
  const fields: string[] = [];
  const problems: string[] = [];
  const text = query.trim();
  if (text === '') return { fields, problems };
  for (const raw of text.split(/\s+(?:and|or)\s+/i)) {
    const term = raw.replace(/^[\s(]*(?:not\s+)?[\s(]*/i, '').replace(/[\s)]*$/, '');
    const match = /^([@\w.]+)\s*:\s*\S/.exec(term);
    if (match) fields.push(match[1]!);
    else problems.push(`query term not understood: ${JSON.stringify(raw)}`);
  }
  return { fields, problems };
}

function parseJsonAttribute(object: SavedObject, path: string, value: unknown, problems: string[]): unknown {
  if (typeof value !== 'string') {
    problems.push(`${object.id}: ${path} is not a JSON string`);
    return undefined;
  }
  try {
    return JSON.parse(value) as unknown;
  } catch {
    problems.push(`${object.id}: ${path} is not valid JSON`);
    return undefined;
  }
}

/** Every problem in a set of saved objects, as sentences; empty when the set is sound. */
function problemsOf(objects: readonly SavedObject[]): string[] {
  const problems: string[] = [];
  const byKey = new Map(objects.map((object) => [`${object.type}:${object.id}`, object]));
  if (byKey.size !== objects.length) problems.push('two objects share a type and id');

  const kindOfPattern = new Map<string, SinkRecordKind>();
  for (const object of objects.filter((o) => o.type === 'index-pattern')) {
    const kind = sinkRecordKinds.find((k) => indexPatternOf(k) === object.attributes.title);
    if (!kind) {
      problems.push(`${object.id}: title ${String(object.attributes.title)} is no kind's index pattern`);
      continue;
    }
    kindOfPattern.set(object.id, kind);
    if (object.attributes.timeFieldName !== '@timestamp') problems.push(`${object.id}: timeFieldName is not @timestamp`);
    if (mappingOf(kind, '@timestamp')?.type !== 'date') problems.push(`${object.id}: @timestamp is not a date in the ${kind} mappings`);
    if (object.attributes.fieldFormatMap !== undefined) {
      const formats = parseJsonAttribute(object, 'fieldFormatMap', object.attributes.fieldFormatMap, problems);
      for (const field of isObject(formats) ? Object.keys(formats) : []) {
        const problem = fieldProblem(kind, field, false);
        if (problem) problems.push(`${object.id}: fieldFormatMap: ${problem}`);
      }
    }
  }

  for (const object of objects) {
    for (const reference of object.references) {
      if (!byKey.has(`${reference.type}:${reference.id}`)) problems.push(`${object.id}: reference ${reference.name} points to ${reference.type}:${reference.id}, which is not in the file`);
    }
    const referenceNamed = (name: string) => object.references.find((reference) => reference.name === name);
    if (object.type !== 'visualization' && object.type !== 'search') continue;

    // Which kind of record the object reads: its searchSourceJSON's index reference.
    const meta = object.attributes.kibanaSavedObjectMeta;
    const searchSource = parseJsonAttribute(object, 'searchSourceJSON', isObject(meta) ? meta.searchSourceJSON : undefined, problems);
    if (!isObject(searchSource)) continue;
    if (searchSource.indexRefName !== INDEX_REF) problems.push(`${object.id}: searchSourceJSON has no indexRefName`);
    const indexReference = referenceNamed(INDEX_REF);
    const kind = indexReference?.type === 'index-pattern' ? kindOfPattern.get(indexReference.id) : undefined;
    if (!kind) {
      problems.push(`${object.id}: no index-pattern reference named ${INDEX_REF} to a pattern of the file`);
      continue;
    }
    const use = (field: unknown, aggregated: boolean, where: string) => {
      const problem = typeof field === 'string' ? fieldProblem(kind, field, aggregated) : `${String(field)} is not a field name`;
      if (problem) problems.push(`${object.id}: ${where}: ${problem}`);
    };

    const query = isObject(searchSource.query) ? searchSource.query : {};
    if (query.language !== 'kuery' || typeof query.query !== 'string') problems.push(`${object.id}: the query is not a KQL string`);
    else {
      const parsed = queryFields(query.query);
      problems.push(...parsed.problems.map((problem) => `${object.id}: ${problem}`));
      for (const field of parsed.fields) use(field, false, 'query');
    }
    const filters = Array.isArray(searchSource.filter) ? (searchSource.filter as unknown[]) : [];
    for (const filter of filters) use(isObject(filter) && isObject(filter.meta) ? filter.meta.key : undefined, false, 'filter');

    if (object.type === 'visualization') {
      const visState = parseJsonAttribute(object, 'visState', object.attributes.visState, problems);
      parseJsonAttribute(object, 'uiStateJSON', object.attributes.uiStateJSON, problems);
      if (!isObject(visState)) continue;
      if (visState.title !== object.attributes.title) problems.push(`${object.id}: visState.title differs from the title`);
      const aggs = Array.isArray(visState.aggs) ? (visState.aggs as unknown[]) : [];
      if (aggs.length === 0) problems.push(`${object.id}: visState has no aggs`);
      for (const agg of aggs) {
        const params = isObject(agg) && isObject(agg.params) ? agg.params : {};
        if (isObject(agg) && agg.type === 'count') continue;
        use(params.field, true, `aggregation ${isObject(agg) ? String(agg.id) : '?'}`);
        if (typeof params.orderBy === 'string' && params.orderBy !== '_key' && !aggs.some((other) => isObject(other) && other.id === params.orderBy)) {
          problems.push(`${object.id}: aggregation orders by ${params.orderBy}, which is no aggregation`);
        }
      }
    } else {
      const columns = object.attributes.columns;
      if (!Array.isArray(columns) || columns.length === 0) problems.push(`${object.id}: a saved search without columns`);
      for (const column of Array.isArray(columns) ? (columns as unknown[]) : []) use(column, false, 'column');
      const sort = object.attributes.sort;
      for (const entry of Array.isArray(sort) ? (sort as unknown[]) : []) {
        if (!Array.isArray(entry) || (entry[1] !== 'asc' && entry[1] !== 'desc')) problems.push(`${object.id}: sort entry ${JSON.stringify(entry)} is not [field, asc|desc]`);
        else use(entry[0], true, 'sort');
      }
    }
  }

  for (const dashboard of objects.filter((object) => object.type === 'dashboard')) {
    const panels = parseJsonAttribute(dashboard, 'panelsJSON', dashboard.attributes.panelsJSON, problems);
    if (!Array.isArray(panels)) continue;
    const cells = new Map<string, string>();
    for (const panel of panels as unknown[]) {
      if (!isObject(panel) || typeof panel.panelRefName !== 'string' || !dashboard.references.some((reference) => reference.name === panel.panelRefName)) {
        problems.push(`${dashboard.id}: a panel has no panelRefName naming one of its references`);
        continue;
      }
      const grid = isObject(panel.gridData) ? panel.gridData : {};
      const [x, y, w, h] = [grid.x, grid.y, grid.w, grid.h].map(Number) as [number, number, number, number];
      if (![x, y, w, h].every(Number.isInteger) || x < 0 || y < 0 || w < 1 || h < 1 || x + w > 48) problems.push(`${dashboard.id}: ${panel.panelRefName} is off the 48-column grid`);
      for (let row = y; row < y + h; row++) {
        for (let column = x; column < x + w; column++) {
          const other = cells.get(`${column},${row}`);
          if (other) problems.push(`${dashboard.id}: ${panel.panelRefName} overlaps ${other}`);
          cells.set(`${column},${row}`, panel.panelRefName);
        }
      }
    }
    const used = new Set((panels as unknown[]).map((panel) => (isObject(panel) ? panel.panelRefName : undefined)));
    for (const reference of dashboard.references) if (!used.has(reference.name)) problems.push(`${dashboard.id}: reference ${reference.name} is on no panel`);
  }
  return [...new Set(problems)];
}

const objects = parseNdjson(readFileSync(file, 'utf8'));

/** A copy of the file's objects with one object's attributes (or references) changed. */
function edited(id: string, change: (object: SavedObject) => SavedObject): SavedObject[] {
  assert.ok(objects.some((object) => object.id === id), `${id} is in the file`);
  return objects.map((object) => (object.id === id ? change(structuredClone(object)) : object));
}

const withAttribute = (object: SavedObject, name: string, value: unknown): SavedObject => ({ ...object, attributes: { ...object.attributes, [name]: value } });
const replacingIn = (object: SavedObject, name: string, from: string, to: string): SavedObject => {
  const text = JSON.stringify(object.attributes[name]);
  assert.ok(text.includes(from), `${object.id}.${name} contains ${from}`);
  return withAttribute(object, name, JSON.parse(text.replaceAll(from, to)));
};
const searchSourceOf = (object: SavedObject) => (object.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON;
const withSearchSource = (object: SavedObject, change: (source: Record<string, unknown>) => Record<string, unknown>) =>
  withAttribute(object, 'kibanaSavedObjectMeta', { searchSourceJSON: JSON.stringify(change(JSON.parse(searchSourceOf(object)) as Record<string, unknown>)) });

describe('Sink > Dashboards > flowsentry.ndjson', () => {
  it('holds one index pattern per kind, titled as the indices are named, with stable ids', () => {
    const patterns = objects.filter((object) => object.type === 'index-pattern');
    assert.deepEqual(
      patterns.map((pattern) => [pattern.id, pattern.attributes.title, pattern.attributes.timeFieldName]).sort(),
      sinkRecordKinds.map((kind) => [`flowsentry-${indexWords[kind]}`, indexPatternOf(kind), '@timestamp']).sort(),
    );
  });

  it('holds the visualizations, saved searches and the overview dashboard', () => {
    const ofType = (type: string) => objects.filter((object) => object.type === type);
    assert.ok(ofType('visualization').length >= 6, 'visualizations');
    assert.ok(ofType('search').length >= 1, 'saved searches');
    const dashboards = ofType('dashboard');
    assert.deepEqual(dashboards.map((dashboard) => dashboard.attributes.title), ['flowsentry: overview']);
    const dashboard = dashboards[0]!;
    const onDashboard = new Set(dashboard.references.map((reference) => reference.id));
    const left = objects.filter((object) => (object.type === 'visualization' || object.type === 'search') && !onDashboard.has(object.id));
    assert.deepEqual(left.map((object) => object.id), [], 'every visualization and saved search is on the dashboard');
  });

  it('is sound: references resolve, and every field used is mapped, aggregatable where aggregated', () => {
    assert.deepEqual(problemsOf(objects), []);
  });

  describe('the checks catch', () => {
    it('a misspelled aggregation field', () => {
      const broken = edited('flowsentry-top-source-workloads', (object) => replacingIn(object, 'visState', '\\"field\\":\\"source_workload\\"', '\\"field\\":\\"source_workloads\\"'));
      assert.deepEqual(problemsOf(broken), ['flowsentry-top-source-workloads: aggregation 2: source_workloads is not in the flow mappings']);
    });

    it('an aggregation on a field that is not aggregatable', () => {
      const broken = edited('flowsentry-alerts-table', (object) => replacingIn(object, 'visState', '\\"field\\":\\"detector\\"', '\\"field\\":\\"summary\\"'));
      assert.deepEqual(problemsOf(broken), ['flowsentry-alerts-table: aggregation 5: summary is text in the alert mappings, which cannot be aggregated']);
    });

    it('a field of another kind of record', () => {
      const broken = edited('flowsentry-alerts-by-detector', (object) => replacingIn(object, 'visState', '\\"field\\":\\"detector\\"', '\\"field\\":\\"policies\\"'));
      assert.deepEqual(problemsOf(broken), ['flowsentry-alerts-by-detector: aggregation 3: policies is not in the alert mappings']);
    });

    it('a misspelled column, an unindexed column and a misspelled sort of a saved search', () => {
      const broken = edited('flowsentry-denied-flows', (object) => ({
        ...object,
        attributes: { ...object.attributes, columns: ['dest_ip', 'dest_prot', 'source_labels'], sort: [['@timestmap', 'desc']] },
      }));
      assert.deepEqual(problemsOf(broken), [
        'flowsentry-denied-flows: column: dest_prot is not in the flow mappings',
        'flowsentry-denied-flows: column: source_labels is not an indexed field of flow (object)',
        'flowsentry-denied-flows: sort: @timestmap is not in the flow mappings',
      ]);
    });

    it('a misspelled field in a query, a query it cannot read and a filter on an unknown field', () => {
      const misspelled = edited('flowsentry-top-public-destinations', (object) => withSearchSource(object, (source) => ({ ...source, query: { query: 'dest_name_agr:pub', language: 'kuery' } })));
      assert.deepEqual(problemsOf(misspelled), ['flowsentry-top-public-destinations: query: dest_name_agr is not in the flow mappings']);
      const unreadable = edited('flowsentry-denied-flows', (object) => withSearchSource(object, (source) => ({ ...source, query: { query: 'deny', language: 'kuery' } })));
      assert.deepEqual(problemsOf(unreadable), ['flowsentry-denied-flows: query term not understood: "deny"']);
      const filtered = edited('flowsentry-denied-flows', (object) => withSearchSource(object, (source) => ({ ...source, filter: [{ meta: { key: 'verdict' } }] })));
      assert.deepEqual(problemsOf(filtered), ['flowsentry-denied-flows: filter: verdict is not in the flow mappings']);
    });

    it('a reference to an object that is not in the file', () => {
      const broken = edited('flowsentry-overview', (object) => ({
        ...object,
        references: object.references.map((reference) => (reference.id === 'flowsentry-denied-flows' ? { ...reference, id: 'flowsentry-denied' } : reference)),
      }));
      assert.deepEqual(problemsOf(broken), ['flowsentry-overview: reference panel_7 points to search:flowsentry-denied, which is not in the file']);
    });

    it('an index pattern titled otherwise than the indices are named', () => {
      const broken = edited('flowsentry-alerts', (object) => withAttribute(object, 'title', 'flowsentry-alert-*'));
      const problems = problemsOf(broken);
      assert.ok(problems.includes('flowsentry-alerts: title flowsentry-alert-* is no kind\'s index pattern'), problems.join('\n'));
    });
  });
});
