/**
 * `queuectl config get|set|list|reset`.
 * @module
 */
import {
  backoffSettings,
  CONFIG_KEYS,
  defaultConfig,
  describeKey,
  formatConfigValue,
  parseConfigKey,
  parseConfigValue,
} from "../config.ts";
import type { Paths } from "../paths.ts";
import { configLoad, configReset, configSet } from "../store/config.ts";
import { formatDuration, toJson } from "../output/text.ts";
import { backoffTimeline } from "../backoff.ts";
import { parseIntOption } from "./args.ts";
import { renderTable } from "../output/table.ts";
import { type CliContext, readStore, tableOptions, withStore } from "./context.ts";

/** `config get [key]`: one value, or all of them. */
export async function configGetAction(
  ctx: CliContext,
  paths: Paths,
  rawKey: string | undefined,
  options: { json?: boolean; color?: boolean },
): Promise<number> {
  if (rawKey === undefined) return await configListAction(ctx, paths, options);
  const key = parseConfigKey(rawKey);
  const config = await readStore(ctx, paths, configLoad);
  ctx.out(
    options.json ? toJson({ [key]: config[key] }) : `${formatConfigValue(key, config[key])}\n`,
  );
  return 0;
}

/** `config set <key> <value>`: validated, then stored. */
export async function configSetAction(
  ctx: CliContext,
  paths: Paths,
  rawKey: string,
  rawValue: string,
): Promise<number> {
  const key = parseConfigKey(rawKey);
  const value = parseConfigValue(key, rawValue);
  await withStore(paths, (kv) => configSet(kv, key, value));
  ctx.out(`${key} = ${formatConfigValue(key, value)}\n`);
  return 0;
}

/** `config list` (alias `show`): every key with its value, default and meaning. */
export async function configListAction(
  ctx: CliContext,
  paths: Paths,
  options: { json?: boolean; color?: boolean },
): Promise<number> {
  const config = await readStore(ctx, paths, configLoad);
  if (options.json) {
    ctx.out(toJson(config));
    return 0;
  }
  const defaults = defaultConfig();
  const rows = CONFIG_KEYS.map((k) => [
    k,
    formatConfigValue(k, config[k]),
    formatConfigValue(k, defaults[k]),
    describeKey(k),
  ]);
  ctx.out(
    await renderTable(
      ["KEY", "VALUE", "DEFAULT", "MEANING"],
      rows,
      tableOptions(ctx, options.color),
    ) + "\n",
  );
  return 0;
}

/** `config reset`: back to the defaults. */
export async function configResetAction(ctx: CliContext, paths: Paths): Promise<number> {
  await withStore(paths, configReset);
  ctx.out("Config reset to defaults\n");
  return 0;
}

/** `config explain-backoff`: the retry timeline the current settings give. */
export async function configExplainBackoffAction(
  ctx: CliContext,
  paths: Paths,
  options: { maxRetries?: string; json?: boolean; color?: boolean },
): Promise<number> {
  const config = await readStore(ctx, paths, configLoad);
  const maxRetries = options.maxRetries === undefined
    ? config["max-retries"]
    : parseIntOption(options.maxRetries, "--max-retries", { min: 0, max: 1000 });
  const settings = backoffSettings(config);
  const rows = backoffTimeline(maxRetries, settings);
  if (options.json) {
    ctx.out(toJson({ max_retries: maxRetries, ...settings, retries: rows }));
    return 0;
  }
  ctx.out(
    `A failing job runs ${maxRetries + 1} time(s): the first run, then ${maxRetries} retr${
      maxRetries === 1 ? "y" : "ies"
    } (backoff-base ${settings.base}, max-backoff ${settings.maxSeconds}s${
      settings.jitter > 0
        ? `, jitter ${settings.jitter}: each delay may be up to ${
          Math.round(settings.jitter * 100)
        }% shorter`
        : ""
    })\n`,
  );
  if (rows.length === 0) return 0;
  const table = rows.map((r) => [
    r.retry,
    `run ${r.retry + 1}`,
    formatDuration(r.delay * 1000),
    formatDuration(r.cumulative * 1000),
  ]);
  ctx.out(
    await renderTable(
      ["RETRY", "RUN", "DELAY", "AFTER FIRST FAILURE"],
      table,
      tableOptions(ctx, options.color),
    ) + "\n",
  );
  return 0;
}
