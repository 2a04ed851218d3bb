/**
 * A fleet's application service registration kept in a homeserver's data dir,
 * for the tests and the bench: the homeserver reads it only as it starts.
 */
import type { Registration } from "../src/matrix/appservice.ts";
import {
  namesOf,
  newRegistration,
  readRegistration,
  registrationPath,
  writeRegistration,
} from "../src/ops/registration_file.ts";
import { stopHomeserver } from "./homeserver/mod.ts";

/** The config line that makes the homeserver of `dataDir` load its registration. */
export const loadsRegistration = (dataDir: string) =>
  `app_service_config_files: ["${registrationPath(dataDir)}"]\n`;

/**
 * The registration in `dataDir`, kept while it is for `url` and names every
 * one of `names`; otherwise written anew, and the homeserver stopped, so that
 * its next start loads it. `aliasPattern`: the agents' alias prefix, a regex.
 */
export async function serviceRegistration(
  dataDir: string,
  url: string,
  names: string[],
  aliasPattern: string,
): Promise<Registration> {
  await Deno.mkdir(dataDir, { recursive: true });
  const found = await readRegistration(dataDir);
  if (found?.url === url && names.every((name) => namesOf(found).includes(name))) return found;
  const registration = newRegistration(url, names, aliasPattern);
  await writeRegistration(dataDir, registration);
  // Synapse runs as another user in a container; it only reads the file.
  await Deno.chmod(registrationPath(dataDir), 0o644);
  await stopHomeserver(dataDir);
  return registration;
}
