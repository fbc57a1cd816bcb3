/**
 * Reading a `__global__` function's parameter list from CUDA C source, so that plain JS numbers
 * passed to a user kernel get the right C type (and mistakes are caught before the launch).
 *
 * Best effort: comments are removed and the one `__global__` definition named `name` is found
 * by text. Not supported yet (the signature is then unknown and every number must be typed
 * with `cuda.f32(...)` & co.): templates, overloads, macros that build the signature, typedef'd
 * or struct parameters (vector types such as `float2`, `half`).
 *
 * @module
 */

/** C scalar types a kernel argument can have, by size and signedness. */
export type ScalarType = "i8" | "u8" | "i16" | "u16" | "i32" | "u32" | "i64" | "u64" | "f32" | "f64";

/** One kernel parameter as read from the source. */
export type KernelParam =
  | {
      kind: "pointer";
      name: string;
      /** The typed-array kinds it accepts (`undefined`: any, e.g. `void*`, `char*`, a template type). */
      accepts: readonly string[] | undefined;
      /** The C text, for messages: `const float*`. */
      ctype: string;
    }
  | {
      kind: "scalar";
      name: string;
      /** Its type, or `null` when not a plain scalar (a struct, `float2`, ...). */
      type: ScalarType | null;
      ctype: string;
    };

const SCALARS: Record<string, ScalarType> = {
  float: "f32",
  double: "f64",
  char: "i8",
  "signed char": "i8",
  int8_t: "i8",
  "unsigned char": "u8",
  uint8_t: "u8",
  bool: "u8",
  short: "i16",
  "short int": "i16",
  "signed short": "i16",
  int16_t: "i16",
  "unsigned short": "u16",
  "unsigned short int": "u16",
  uint16_t: "u16",
  int: "i32",
  signed: "i32",
  "signed int": "i32",
  int32_t: "i32",
  unsigned: "u32",
  "unsigned int": "u32",
  uint32_t: "u32",
  long: "i64",
  "long int": "i64",
  "long long": "i64",
  "long long int": "i64",
  "signed long": "i64",
  "signed long long": "i64",
  int64_t: "i64",
  ptrdiff_t: "i64",
  ssize_t: "i64",
  "unsigned long": "u64",
  "unsigned long int": "u64",
  "unsigned long long": "u64",
  "unsigned long long int": "u64",
  uint64_t: "u64",
  size_t: "u64",
};

/** The typed-array kinds whose elements a pointer of each scalar type reads. */
const ARRAY_KINDS: Record<ScalarType, readonly string[]> = {
  f32: ["Float32Array"],
  f64: ["Float64Array"],
  i8: ["Int8Array"],
  u8: ["Uint8Array", "Uint8ClampedArray"],
  i16: ["Int16Array"],
  u16: ["Uint16Array"],
  i32: ["Int32Array"],
  u32: ["Uint32Array"],
  i64: ["BigInt64Array"],
  u64: ["BigUint64Array"],
};

const QUALIFIERS = /\b(?:const|volatile|__restrict__|__restrict|restrict|register|__grid_constant__)\b/g;

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "<" || c === "(" || c === "[") depth++;
    else if (c === ">" || c === ")" || c === "]") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

function parseParam(text: string, index: number): KernelParam {
  const ctype = text.replace(/=.*$/s, "").replace(/\s+/g, " ").trim();
  const bare = ctype.replace(QUALIFIERS, " ").replace(/\s+/g, " ").trim();
  const star = bare.search(/[*[]/);
  if (star >= 0) {
    const base = bare.slice(0, star).trim();
    const name =
      bare
        .slice(star)
        .replace(/\[[^\]]*\]/g, "")
        .replace(/[*\s]/g, "") || `#${index}`;
    const type = base === "char" ? undefined : SCALARS[base]; // char*: bytes of anything
    return { kind: "pointer", name, accepts: type ? ARRAY_KINDS[type] : undefined, ctype };
  }
  const words = bare.split(" ");
  const last = words.at(-1)!;
  const named = words.length > 1 && !(words.join(" ") in SCALARS) && /^[A-Za-z_]\w*$/.test(last);
  const typeText = named ? words.slice(0, -1).join(" ") : bare;
  return { kind: "scalar", name: named ? last : `#${index}`, type: SCALARS[typeText] ?? null, ctype };
}

/** The text between the parenthesis at `open` and its match, or undefined. */
function parenthesised(text: string, open: number): string | undefined {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return text.slice(open + 1, i);
  }
  return undefined;
}

/**
 * The parameters of the `__global__` function `name` defined in `source`, or `null` when they
 * cannot be read reliably (see the module notes).
 *
 * @example
 * ```ts
 * parseKernelSignature('extern "C" __global__ void k(float* y, int n) {}', "k");
 * // [{ kind: "pointer", name: "y", accepts: ["Float32Array"], ... }, { kind: "scalar", name: "n", type: "i32", ... }]
 * ```
 */
export function parseKernelSignature(source: string, name: string): KernelParam[] | null {
  if (!/^[A-Za-z_]\w*$/.test(name)) return null;
  const code = source.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ");
  const found: string[] = [];
  for (const match of code.matchAll(new RegExp(`\\b${name}\\s*\\(`, "g"))) {
    const before = code.slice(0, match.index);
    const declaration = before.slice(
      Math.max(before.lastIndexOf(";"), before.lastIndexOf("}"), before.lastIndexOf("{"), before.lastIndexOf("#")) + 1,
    );
    if (!/\b__global__\b/.test(declaration)) continue;
    if (/\btemplate\b/.test(declaration)) return null;
    const open = match.index + match[0].length - 1;
    const params = parenthesised(code, open);
    if (params === undefined) return null;
    const rest = code.slice(open + params.length + 2);
    if (/^\s*(?:__\w+__\s*(?:\([^)]*\))?\s*)*\{/.test(rest)) found.push(params); // a definition, not a declaration
  }
  if (found.length !== 1) return null;
  const text = found[0]!.trim();
  if (text === "" || text === "void") return [];
  return splitTopLevel(text).map(parseParam);
}
