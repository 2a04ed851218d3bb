/** Files that hold a secret: mode 0600 in a 0700 directory, written whole or not at all. */

/** Written to a private temporary file and renamed, so a crash never leaves half a secret. */
export async function writePrivately(path: string, text: string): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")) || ".", {
      recursive: true,
      mode: 0o700,
    });
    await Deno.writeTextFile(temporary, text, { mode: 0o600, createNew: true });
    await Deno.rename(temporary, path);
  } catch (err) {
    await Deno.remove(temporary).catch(() => {});
    throw err;
  }
}
