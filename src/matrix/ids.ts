/** Matrix identifiers as the spec defines them, parsed without judging where they came from. */

/** The server part of a user id (`@local:server`), or undefined when it is not one. */
export function serverOfUserId(userId: string): string | undefined {
  const colon = userId.indexOf(":");
  if (!userId.startsWith("@") || colon < 2 || colon === userId.length - 1) return undefined;
  return userId.slice(colon + 1);
}

/** The local part of a user id (`@local:server`), or undefined when it is not one. */
export function localpartOfUserId(userId: string): string | undefined {
  return serverOfUserId(userId) === undefined ? undefined : userId.slice(1, userId.indexOf(":"));
}
