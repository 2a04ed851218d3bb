/** Matrix identifiers as the spec defines them, parsed without judging where they came from. */

/** The server part of a user id (`@local:server`), or undefined when it is not one. */
export function serverOfUserId(userId: string): string | undefined {
  const colon = userId.indexOf(":");
  if (!userId.startsWith("@") || colon < 2 || colon === userId.length - 1) return undefined;
  return userId.slice(colon + 1);
}
