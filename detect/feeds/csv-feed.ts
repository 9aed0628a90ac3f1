/**
 * A feed as CSV: which column holds the indicator (and which one a note), then one entry per row.
 *
 * - A first row with no address in any field is a header. The indicator column is the one with
 *   the first name of `indicatorColumns` it has (`ip`, `cidr`, `dst_ip`, ...), else the first;
 *   the note column the one with the first name of `noteColumns`, if any.
 * - Without a header, a comment line just before the first row that names the columns
 *   (`# "first_seen","dst_ip","malware"`, as some publishers write it) is taken as the header,
 *   provided its indicator column holds an address in the first row. Otherwise the indicator is
 *   the first column that holds an address in the first row, and there is no note.
 */
import { CsvReader } from './csv-reader.js';
import { newBlock, readBlock } from './feed-block.js';
import type { FeedCollector } from './feed-collector.js';
import type { Steps } from './slices.js';

/** Header names of the indicator column, most telling first (compared lower case, `-` and blanks as `_`). */
export const indicatorColumns: readonly string[] = [
  'indicator', 'ioc', 'ip', 'ip_address', 'ipaddress', 'ip_addr', 'address', 'addr', 'cidr', 'network', 'netblock', 'net',
  'prefix', 'subnet', 'range', 'value', 'dst_ip', 'dest_ip', 'destination_ip', 'dstip', 'src_ip', 'source_ip', 'srcip',
];

/** Header names of a column kept as each entry's note. */
export const noteColumns: readonly string[] = [
  'description', 'desc', 'comment', 'comments', 'note', 'notes', 'reason', 'threat', 'malware', 'category', 'tags', 'tag',
];

interface Columns {
  /** The first row is the header, not an entry. */
  readonly header: boolean;
  readonly indicator: number;
  /** -1: no note column. */
  readonly note: number;
}

const columnName = (field: string) => field.trim().toLowerCase().replace(/[\s-]+/g, '_');

const scratch = newBlock();
const isAddress = (field: string) => readBlock(field.trim(), scratch);

/** The position of the best-ranked name of `names` among `header`, or -1. */
function columnOf(header: readonly string[], names: readonly string[]): number {
  const normalised = header.map(columnName);
  for (const name of names) {
    const at = normalised.indexOf(name);
    if (at >= 0) return at;
  }
  return -1;
}

function headerOfComment(comment: string | undefined): readonly string[] | undefined {
  if (comment === undefined) return undefined;
  const item = new CsvReader(comment).next();
  return item?.kind === 'record' && item.fields.length > 1 ? item.fields : undefined;
}

export function columnsOf(first: readonly string[], lastComment: string | undefined): Columns {
  if (!first.some(isAddress)) {
    return { header: true, indicator: Math.max(0, columnOf(first, indicatorColumns)), note: columnOf(first, noteColumns) };
  }
  const commented = headerOfComment(lastComment);
  if (commented) {
    const indicator = columnOf(commented, indicatorColumns);
    const field = first[indicator];
    if (field !== undefined && isAddress(field)) return { header: false, indicator, note: columnOf(commented, noteColumns) };
  }
  return { header: false, indicator: first.findIndex(isAddress), note: -1 };
}

/** Rows read between two slices. */
const sliceRows = 16_384;

export function* csvFeedSteps(text: string, into: FeedCollector): Steps<void> {
  const reader = new CsvReader(text);
  let columns: Columns | undefined;
  let lastComment: string | undefined;
  let rows = 0;
  for (let item = reader.next(); item !== undefined; item = reader.next()) {
    if (item.kind === 'comment') {
      if (columns === undefined) lastComment = item.text;
      continue;
    }
    if (item.kind === 'unterminated') {
      into.problem(item.line, 'FEED_BAD_CSV', 'a quoted field opened on this line never closes; the rest of the feed is not read');
      return;
    }
    if (columns === undefined) {
      columns = columnsOf(item.fields, lastComment);
      if (columns.header) continue;
    }
    const indicator = item.fields[columns.indicator];
    if (indicator === undefined) {
      into.problem(item.line, 'FEED_BAD_CSV', `${item.fields.length} column(s); the indicator is column ${columns.indicator + 1}`);
    } else {
      const note = columns.note >= 0 ? item.fields[columns.note]?.trim() : undefined;
      into.add(indicator.trim(), item.line, note || undefined);
    }
    if (++rows % sliceRows === 0) yield;
  }
}
