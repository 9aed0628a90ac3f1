/**
 * CSV records one at a time (RFC 4180: `"` quotes, `""` inside quotes, a quoted field may hold
 * commas, `#` and line breaks), with the line each record starts on. Blank lines are skipped;
 * a line whose first non-blank character is `#` is a comment.
 */
export type CsvItem =
  | { readonly kind: 'record'; readonly line: number; readonly fields: readonly string[] }
  | { readonly kind: 'comment'; readonly line: number; readonly text: string }
  /** A quote that never closes: the rest of the text is given up. */
  | { readonly kind: 'unterminated'; readonly line: number };

const NEWLINE = 10;
const RETURN = 13;
const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const COMMA = 44;
const HASH = 35;

const isBlank = (code: number) => code === SPACE || code === TAB;

export class CsvReader {
  private position = 0;
  private lineNumber = 1;

  constructor(private readonly text: string) {
    if (text.charCodeAt(0) === 0xfeff) this.position = 1;
  }

  next(): CsvItem | undefined {
    const { text } = this;
    for (;;) {
      let i = this.position;
      while (i < text.length && (isBlank(text.charCodeAt(i)) || text.charCodeAt(i) === RETURN)) i++;
      if (i >= text.length) {
        this.position = i;
        return undefined;
      }
      const code = text.charCodeAt(i);
      if (code === NEWLINE) {
        this.position = i + 1;
        this.lineNumber++;
      } else if (code === HASH) {
        const end = this.lineEnd(i);
        const item: CsvItem = { kind: 'comment', line: this.lineNumber, text: text.slice(i + 1, end).trim() };
        this.endLine(end);
        return item;
      } else {
        this.position = i;
        return this.record();
      }
    }
  }

  private record(): CsvItem {
    const { text } = this;
    const line = this.lineNumber;
    const fields: string[] = [];
    let i = this.position;
    for (;;) {
      let start = i;
      while (start < text.length && isBlank(text.charCodeAt(start))) start++;
      let end: number;
      if (text.charCodeAt(start) === QUOTE) {
        const quoted = this.quoted(start + 1);
        if (quoted === undefined) {
          this.position = text.length;
          return { kind: 'unterminated', line };
        }
        end = quoted.end;
        // Anything between the closing quote and the next comma is kept, as most readers do.
        while (end < text.length && !isFieldEnd(text.charCodeAt(end))) end++;
        fields.push(quoted.value + text.slice(quoted.end, end).trim());
      } else {
        end = start;
        while (end < text.length && !isFieldEnd(text.charCodeAt(end))) end++;
        fields.push(text.slice(start, end).trim());
      }
      if (text.charCodeAt(end) === COMMA) {
        i = end + 1;
        continue;
      }
      const lineEnd = this.lineEnd(end);
      this.endLine(lineEnd);
      return { kind: 'record', line, fields };
    }
  }

  /** The value of a quoted field whose text starts at `from`, and where its closing quote ends. */
  private quoted(from: number): { value: string; end: number } | undefined {
    const { text } = this;
    let value = '';
    let segment = from;
    for (;;) {
      const quote = text.indexOf('"', segment);
      if (quote < 0) return undefined;
      this.countLines(segment, quote);
      if (text.charCodeAt(quote + 1) === QUOTE) {
        value += text.slice(segment, quote + 1);
        segment = quote + 2;
        continue;
      }
      return { value: value + text.slice(segment, quote), end: quote + 1 };
    }
  }

  private countLines(from: number, to: number): void {
    for (let i = from; i < to; i++) if (this.text.charCodeAt(i) === NEWLINE) this.lineNumber++;
  }

  private lineEnd(from: number): number {
    const end = this.text.indexOf('\n', from);
    return end < 0 ? this.text.length : end;
  }

  private endLine(lineEnd: number): void {
    this.position = lineEnd + 1;
    if (lineEnd < this.text.length) this.lineNumber++;
  }
}

function isFieldEnd(code: number): boolean {
  return code === COMMA || code === NEWLINE || code === RETURN;
}
