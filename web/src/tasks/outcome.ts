/**
 * What running a task on one side gives back to the dispatcher (tasks/dispatch.ts). The two runners
 * never call each other: each ends with its result or with why it could not, and the dispatcher
 * decides where the task goes next.
 */
import type { Task } from '../../../shared/contract.ts';
import type { ErrorCode } from '../../../shared/errors.ts';

export type RunOutcome =
  /** Final (succeeded or failed). `display`: the decoded photo, back from the model, for the result view. */
  | { kind: 'done'; task: Task; display?: ImageBitmap | undefined }
  /**
   * This side cannot run it: the task as it stands and why. `retry`: what would let this side take it
   * later (the network back, a login), when that is worth waiting for.
   */
  | {
      kind: 'refused';
      task: Task;
      reason: string;
      /** The task's error if nobody else takes it either. */
      code: ErrorCode;
      retry?: 'network' | 'login' | undefined;
    };
