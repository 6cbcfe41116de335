// Printable ASCII needs none of the Unicode steps (and is what almost every row of a large import holds).
const ASCII = /^[\x20-\x7e]*$/;
// Halfwidth and fullwidth forms: PRECIS (RFC 8265) maps them to their ordinary width before anything else.
const WIDE = /[\uFF01-\uFF5E\uFF61-\uFFDC\uFFE8-\uFFEE]/g;

/**
 * The one canonical form of a username, used by the import, every sign-in and every username list: NFC, ordinary
 * width, and Unicode's full case mapping (toUpperCase then toLowerCase, so ß and SS, ﬁ and FI, ς and σ, K and k are
 * one name), NFC again. Case folding alone is not available in JS; this round trip equals full case folding for
 * every letter a username can hold, and additionally merges dotless ı with i, which is what a user would expect.
 * The result is what the `username` column stores, so "garcí0" typed in NFD or NFC, or as GARCÍ0, is one user.
 */
export function canonicalUsername(input: string): string {
  if (ASCII.test(input)) return input.trim().toLowerCase();
  return input.trim().replace(WIDE, (c) => c.normalize('NFKC')).normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
}

/** An email address as stored: NFC, with the (case-insensitive) domain lower-cased and the local part as given. */
export function canonicalEmail(input: string): string {
  const nfc = ASCII.test(input) ? input : input.normalize('NFC');
  const at = nfc.lastIndexOf('@');
  return at < 0 ? nfc : nfc.slice(0, at + 1) + nfc.slice(at + 1).toLowerCase();
}

// Letters from other scripts that look like Latin ones (a subset of Unicode's confusables.txt, UTS #39).
const LOOKALIKES: Record<string, string> = {
  а: 'a', в: 'b', е: 'e', о: 'o', р: 'p', с: 'c', у: 'y', х: 'x', ѕ: 's', і: 'i', ј: 'j', ԁ: 'd', һ: 'h', ӏ: 'l', ԛ: 'q',
  ԝ: 'w', ү: 'y', к: 'k', м: 'm', т: 't', н: 'h',
  α: 'a', ο: 'o', ρ: 'p', ν: 'v', ι: 'i', κ: 'k', υ: 'u', χ: 'x', γ: 'y', ω: 'w', ε: 'e', τ: 't',
  օ: 'o', ս: 'u', ց: 'g', ɑ: 'a', ɡ: 'g', ɩ: 'i', ı: 'i',
};
const NON_LATIN = /[^\u0000-\u024f\u1e00-\u1eff]/u;

/**
 * The UTS #39 skeleton of a canonical username, reduced to cross-script lookalikes: decomposed, lookalike letters
 * replaced by their Latin twin, recomposed. Two different usernames with one skeleton look the same on screen.
 * Null when the name has nothing to replace (the common case), so the import only compares the few that do.
 */
export function usernameSkeleton(username: string): string | null {
  if (!NON_LATIN.test(username)) return null;
  const skeleton = [...username.normalize('NFD')].map((c) => LOOKALIKES[c] ?? c).join('').normalize('NFC');
  return skeleton === username ? null : skeleton;
}
