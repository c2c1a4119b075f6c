/**
 * Header names only the proxy may set (plane-0.5.md §7.2 step 7): `x-verified-*` and
 * `x-forwarded-for` / `x-forwarded-proto`. A client's field is refused when its name, with `_`
 * read as `-` and case folded, is one of them: CGI, WSGI, PHP and some Node stacks map
 * `X_Verified_Username` and `x-verified-username` to the same variable
 * (`HTTP_X_VERIFIED_USERNAME`), so a spelling we let through would pass as verified (issue 10,
 * finding 2b).
 *
 * Hot path (every inbound field): a first-character test rejects almost every name before
 * any comparison; no regular expression, no lower-cased copy.
 */

const VERIFIED = "x-verified-";
const FORWARDED_FOR = "x-forwarded-for";
const FORWARDED_PROTO = "x-forwarded-proto";

/** Whether `name` reads as a header the proxy owns, with `_` as `-` and case folded. */
export function isReservedHeader(name: string): boolean {
  const n = name.length;
  if (n < VERIFIED.length || (name.charCodeAt(0) | 0x20) !== 0x78) return false; // "x"
  if (foldedPrefix(name, VERIFIED)) return true;
  if (n === FORWARDED_FOR.length) return foldedPrefix(name, FORWARDED_FOR);
  if (n === FORWARDED_PROTO.length) return foldedPrefix(name, FORWARDED_PROTO);
  return false;
}

/**
 * Whether `name` starts with `lower` (lower case letters and `-`), folding ASCII case and
 * reading `_` as `-`. `| 0x20` maps A-Z onto a-z; other characters it could map onto a
 * letter (`@`, `[`…) are not tokens a parsed name can hold, and `-` is checked apart.
 */
function foldedPrefix(name: string, lower: string): boolean {
  if (name.length < lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const want = lower.charCodeAt(i);
    const c = name.charCodeAt(i);
    if (want === 0x2d) {
      if (c !== 0x2d && c !== 0x5f) return false; // "-" or "_"
    } else if ((c | 0x20) !== want || c < 0x41) return false;
  }
  return true;
}
