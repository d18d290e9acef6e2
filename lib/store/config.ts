/**
 * Stored configuration: read merged over the defaults, write one key, reset.
 * @module
 */
import { type Config, type ConfigKey, resolveConfig } from "../config.ts";
import { CONFIG_PREFIX, configKey } from "./keys.ts";

/** The effective config: stored values over the defaults. */
export async function configLoad(kv: Deno.Kv): Promise<Config> {
  const stored: Record<string, unknown> = {};
  for await (const entry of kv.list<number>({ prefix: CONFIG_PREFIX })) {
    stored[entry.key[1] as string] = entry.value;
  }
  return resolveConfig(stored);
}

/** Stores one validated value. */
export async function configSet(kv: Deno.Kv, key: ConfigKey, value: number): Promise<void> {
  await kv.set(configKey(key), value);
}

/** Removes every stored value, so the defaults apply again. */
export async function configReset(kv: Deno.Kv): Promise<void> {
  const op = kv.atomic();
  for await (const entry of kv.list({ prefix: CONFIG_PREFIX })) op.delete(entry.key);
  await op.commit();
}
