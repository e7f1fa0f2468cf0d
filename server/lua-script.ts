/**
 * Lua scripts live in `.lua` files beside the module that owns them, each with a header saying its
 * KEYS, ARGV and result. This runs them as ioredis commands (`defineCommand`): the script text is
 * sent once per connection, then only its SHA (EVALSHA), also inside pipelines and MULTIs, where
 * a script can share one round trip with other commands (BullMQ's included).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis.ts';

type Arg = string | number;
/** A client or pipeline with our scripts defined on it (untyped by ioredis: one cast, here). */
type WithScripts = Record<string, (...args: Arg[]) => Promise<unknown>>;

const defined = new WeakMap<object, Set<string>>();
/** Every script made so far (they are module constants: all of them once the modules are loaded). */
const all: LuaScript[] = [];

/**
 * Defines every script on a new connection before its first command. On a connection that
 * pipelines automatically this matters: a pipeline already gathering the commands of this tick
 * does not know a command defined after it was made, and a script defined on first use in that
 * tick failed with "pipeline[functionName] is not a function" (seen as a 500 on a login made while
 * the reconciler's first commands were in flight).
 */
export function defineAllScripts(redis: RedisClient): void {
  for (const script of all) script.define(redis);
}

export class LuaScript {
  readonly name: string;
  readonly lua: string;

  /** `file`: the script's URL, e.g. `new URL('./lua/task-claim.lua', import.meta.url)`. */
  constructor(file: URL) {
    this.lua = fs.readFileSync(file, 'utf8');
    // A name of our own (ioredis adds a method by this name to the client).
    this.name = `tl_${path.basename(fileURLToPath(file), '.lua').replace(/\W/g, '_')}`;
    all.push(this);
  }

  /** Runs the script on its own (one round trip). */
  run(redis: RedisClient, keys: string[], args: Arg[]): Promise<unknown> {
    this.define(redis);
    return (redis as unknown as WithScripts)[this.name]?.(keys.length, ...keys, ...args) as Promise<unknown>;
  }

  /** Adds the script to a pipeline or MULTI made from `redis` (its reply comes back with theirs). */
  queue(redis: RedisClient, pipeline: ChainableCommander, keys: string[], args: Arg[]): void {
    this.define(redis);
    const fn = (pipeline as unknown as WithScripts)[this.name];
    if (!fn)
      throw new Error(`script ${this.name} is not defined on this pipeline (define it before making the pipeline)`);
    void fn.call(pipeline, keys.length, ...keys, ...args);
  }

  /** Defines the command on the client (once); pipelines made afterwards have it too. */
  define(redis: RedisClient): void {
    let names = defined.get(redis);
    if (!names) {
      names = new Set();
      defined.set(redis, names);
    }
    if (names.has(this.name)) return;
    redis.defineCommand(this.name, { lua: this.lua });
    names.add(this.name);
  }
}
