/** Lower-case hexadecimal, as Synapse's registration MAC and our file names want it. */
export function toHex(bytes: Uint8Array | ArrayBuffer): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return Array.from(view, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `count` random bytes as hex, for names and secrets no other run will pick. */
export const randomHex = (count: number): string =>
  toHex(crypto.getRandomValues(new Uint8Array(count)));

/** The SHA-256 of `text` in hex: a name for a secret that never reveals it. */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}
