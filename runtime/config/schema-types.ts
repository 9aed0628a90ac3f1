/**
 * The vocabulary of the configuration schema: what a key's value may be, how a key and a section
 * are declared, and the TypeScript type of a section's values, derived from its declaration.
 */

/** One value: what a scalar key holds, or each item of a list. */
export type ScalarType =
  | { readonly kind: 'string'; readonly pattern?: RegExp; /** How a matching value looks, for messages: `host:port`. */ readonly shape?: string }
  | { readonly kind: 'integer'; readonly min?: number; readonly max?: number }
  | { readonly kind: 'number'; readonly min?: number; /** Exclusive lower bound. */ readonly above?: number }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  /** An http or https URL. */
  | { readonly kind: 'url' }
  /** Seconds (a number), or a number with s, m, h or d: `90`, `30s`, `10m`, `1.5h`, `7d`. */
  | { readonly kind: 'duration' };

export type ValueType =
  | ScalarType
  | {
      readonly kind: 'list';
      readonly item: ScalarType;
      /** The command takes it as one comma-separated option (`--kinds a,b`) rather than a repeated one. */
      readonly joined?: boolean;
      /** Between items in an environment variable (default `,`; `;` where an item holds commas). */
      readonly separator?: string;
    };

export interface KeySpec {
  readonly type: ValueType;
  readonly description: string;
  /** The value when neither the file nor the environment gives one. */
  readonly default?: unknown;
  /** A realistic value, shown in the reference. */
  readonly example: unknown;
  /** Shown as `<redacted>` wherever the configuration is printed. */
  readonly secret?: boolean;
  /** The environment variable the code reads this setting from: a configured value becomes its default. */
  readonly variable?: string;
}

export interface SectionSpec {
  readonly description: string;
  /** `stage`: the options of the `flowsentry <section>` command, same names. */
  readonly kind: 'global' | 'stage';
  readonly keys: Readonly<Record<string, KeySpec>>;
}

export type ConfigSchema = Readonly<Record<string, SectionSpec>>;

/** A value as the loader hands it out. */
export type ConfigValue = string | number | boolean | readonly (string | number)[];

type ScalarValue<T> = T extends { readonly kind: 'integer' | 'number' }
  ? number
  : T extends { readonly kind: 'boolean' }
    ? boolean
    : T extends { readonly kind: 'enum'; readonly values: readonly (infer Word)[] }
      ? Word
      : string;

export type ValueOf<T> = T extends { readonly kind: 'list'; readonly item: infer Item } ? readonly ScalarValue<Item>[] : ScalarValue<T>;

type KeysWithDefault<Keys> = { [K in keyof Keys]: Keys[K] extends { readonly default: unknown } ? K : never }[keyof Keys];

/** A section's values: keys with a default are always there, the others when configured. */
export type SectionValues<Section extends SectionSpec> = {
  readonly [K in KeysWithDefault<Section['keys']>]: ValueOf<Section['keys'][K]['type']>;
} & {
  readonly [K in Exclude<keyof Section['keys'], KeysWithDefault<Section['keys']>>]?: ValueOf<Section['keys'][K]['type']>;
};

/** Every section's values. */
export type ConfigOf<Schema extends ConfigSchema> = { readonly [S in keyof Schema]: SectionValues<Schema[S]> };
