/**
 * The one contract between the browser, the API and the workers.
 *
 * Zod schemas are the source of truth: TypeScript types are inferred from them and the
 * OpenAPI document is generated from them (the `id` in `.meta()` names the component).
 * Plain `zod` only, so the browser can import this module without the server's libraries.
 */
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './errors.ts';
import { FILE_NAME_MAX } from './file-name.ts';
import { DEFAULT_MODEL_ID } from './models/builtin.ts';
import { ModelIdSchema, ModelInputSchema, ModelLabelsSchema, ModelManifestSchema } from './models/manifest.ts';

export * from './models/manifest.ts';
export { DEFAULT_MODEL_ID };

export const TASK_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export const FINAL_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'canceled'];

export const TaskStatusSchema = z.enum(TASK_STATUSES).meta({
  id: 'TaskStatus',
  description: 'queued → running → succeeded | failed; queued or running → canceled',
});
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

export const TaskSourceSchema = z.enum(['server', 'device']).meta({
  id: 'TaskSource',
  description: 'Where the detection ran: the server queue or the user’s own device.',
});
export type TaskSource = z.infer<typeof TaskSourceSchema>;

export const ErrorCodeSchema = z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]).meta({ id: 'ErrorCode' });

export const ErrorInfoSchema = z
  .object({
    code: ErrorCodeSchema,
    message: z.string().meta({ description: 'For people; may change. Branch on `code`.' }),
  })
  .meta({ id: 'ErrorInfo' });
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;

export const ErrorResponseSchema = z.object({ error: ErrorInfoSchema }).meta({ id: 'ErrorResponse' });
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;

export const ModelInfoSchema = z
  .object({
    // Tasks recorded before models could be chosen ran the only one there was.
    id: z
      .string()
      .default(DEFAULT_MODEL_ID)
      .meta({ description: 'The model’s id (GET /models)', example: 'centernet' }),
    name: z.string().meta({ example: 'centernet-mobilenetv3' }),
    version: z.string().meta({ example: 'human-3.3.6' }),
    backend: z.string().meta({
      description: 'TensorFlow.js backend that ran the model: tensorflow, wasm, cpu, webgpu, webgl, or none',
      example: 'wasm',
    }),
  })
  .meta({ id: 'ModelInfo' });
export type ModelInfo = z.infer<typeof ModelInfoSchema>;

export const IMAGE_MIME_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
export const ImageMimeSchema = z.enum(IMAGE_MIME_TYPES);
export type ImageMime = z.infer<typeof ImageMimeSchema>;

export const ImageInfoSchema = z
  .object({
    width: z.number().int().positive().meta({ description: 'Pixels, after EXIF orientation' }),
    height: z.number().int().positive(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    mime: ImageMimeSchema,
  })
  .meta({ id: 'ImageInfo' });
export type ImageInfo = z.infer<typeof ImageInfoSchema>;

export const BoxSchema = z
  .object({
    x: z.number().meta({ description: 'Left edge, pixels of the original image' }),
    y: z.number().meta({ description: 'Top edge' }),
    width: z.number().nonnegative(),
    height: z.number().nonnegative(),
  })
  .meta({ id: 'Box' });
export type Box = z.infer<typeof BoxSchema>;

export const DetectionSchema = z
  .object({
    label: z.string().meta({ example: 'person' }),
    class_id: z
      .number()
      .int()
      .min(0)
      .meta({ description: '0-based index into the model’s labels (the 80 COCO classes for the built-in models)' }),
    score: z.number().min(0).max(1),
    box: BoxSchema,
  })
  .meta({ id: 'Detection' });
export type Detection = z.infer<typeof DetectionSchema>;

export const TimingsSchema = z
  .object({
    queue_ms: z.number().nonnegative().nullable(),
    inference_ms: z.number().nonnegative().nullable(),
    total_ms: z.number().nonnegative().nullable(),
    tiles: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .meta({ description: 'Tiles the model ran over besides the whole photo (0: not tiled)' }),
    tile_ms: z.number().nonnegative().nullable().optional().meta({ description: 'Mean inference time per tile' }),
  })
  .meta({ id: 'Timings' });
export type Timings = z.infer<typeof TimingsSchema>;

export const DEFAULT_MIN_SCORE = 0.3;
export const DEFAULT_MAX_DETECTIONS = 20;
export const MAX_DETECTIONS_LIMIT = 100;

/**
 * Large photos are also run in overlapping tiles (small objects found): `auto` tiles photos whose
 * long side is 1600 px or more, `off` never, `CxR` (e.g. `3x2`) that grid; at most 12 tiles.
 */
export const TilingSchema = z
  .union([z.enum(['auto', 'off']), z.string().regex(/^[1-9]\d?x[1-9]\d?$/, 'auto, off, or a grid such as 3x2')])
  .meta({ id: 'Tiling', example: 'auto' });
export type Tiling = z.infer<typeof TilingSchema>;

export const DetectParamsSchema = z
  .object({
    min_score: z.number().min(0).max(1).default(DEFAULT_MIN_SCORE),
    max_detections: z.number().int().min(1).max(MAX_DETECTIONS_LIMIT).default(DEFAULT_MAX_DETECTIONS),
    tiling: TilingSchema.default('auto'),
    model: ModelIdSchema.default(DEFAULT_MODEL_ID).meta({
      description: 'The model to run (GET /models lists them); the deployment’s default when not given',
    }),
  })
  .meta({ id: 'DetectParams' });
export type DetectParams = z.infer<typeof DetectParamsSchema>;

/**
 * Where a task ran and why, as the client that routed it decided (the web app measures its own
 * device and reads the server's /stats). Absent on tasks sent by programs that did not route.
 */
export const RouteDecisionSchema = z
  .object({
    chosen: TaskSourceSchema,
    reason: z.string().max(300).meta({ description: 'The rule that decided, in words (shown to the user)' }),
    device_estimate_ms: z.number().nonnegative().nullable(),
    server_estimate_ms: z.number().nonnegative().nullable(),
  })
  .meta({ id: 'RouteDecision' });
export type RouteDecision = z.infer<typeof RouteDecisionSchema>;

export const TaskSchema = z
  .object({
    task_id: z.uuid(),
    status: TaskStatusSchema,
    source: TaskSourceSchema,
    created_at: z.iso.datetime(),
    started_at: z.iso.datetime().nullable(),
    finished_at: z.iso.datetime().nullable(),
    params: DetectParamsSchema,
    model: ModelInfoSchema.nullable().meta({ description: 'Set once a worker or device has taken the task' }),
    image: ImageInfoSchema,
    detections: z.array(DetectionSchema),
    timings: TimingsSchema,
    error: ErrorInfoSchema.nullable(),
    route: RouteDecisionSchema.optional(),
    batch_id: z
      .uuid()
      .optional()
      .meta({ description: 'The album job (batch) the task belongs to; absent for single uploads' }),
    file_name: z.string().max(FILE_NAME_MAX).optional().meta({
      description:
        'The file name the client sent with the photo (the multipart `filename`), cleaned: control and bidirectional-control characters removed, at most 255 characters. Metadata only (never used as a path); the exports’ `file_name`. Absent when none was sent.',
      example: 'IMG_0042.jpg',
    }),
  })
  .meta({ id: 'Task' });
export type Task = z.infer<typeof TaskSchema>;

export const TaskListSchema = z
  .object({
    items: z.array(TaskSchema),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null at the end' }),
  })
  .meta({ id: 'TaskList' });
export type TaskList = z.infer<typeof TaskListSchema>;

export const UserSchema = z
  .object({
    id: z.uuid(),
    username: z.string(),
    role: z.enum(['admin', 'user']),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'User' });
export type User = z.infer<typeof UserSchema>;

/** Who is logged in on this request, if anyone: a question that is not an error when nobody is. */
export const SessionStateSchema = z
  .object({ user: UserSchema.nullable().meta({ description: 'null when not logged in' }) })
  .meta({ id: 'SessionState' });
export type SessionState = z.infer<typeof SessionStateSchema>;

export const USERNAME_PATTERN = /^[a-zA-Z0-9_.-]{1,64}$/;

export const LoginRequestSchema = z
  .object({
    username: z.string().regex(USERNAME_PATTERN, 'letters, digits, . _ - (1–64)'),
    password: z.string().min(1).max(1024),
  })
  .meta({ id: 'LoginRequest' });
export type LoginRequest = z.infer<typeof LoginRequestSchema>;

export const LoginResponseSchema = z
  .object({
    token: z.string().meta({ description: 'Bearer token for API clients (the web app uses the cookie)' }),
    expires_at: z.iso.datetime(),
    user: UserSchema,
  })
  .meta({ id: 'LoginResponse' });
export type LoginResponse = z.infer<typeof LoginResponseSchema>;

/** A Web Push subscription, as the browser's `PushSubscription.toJSON()` gives it. */
export const PushSubscriptionSchema = z
  .object({
    endpoint: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(2048)
      .meta({ description: 'The push service URL the browser was given', example: 'https://push.example/send/abc' }),
    expirationTime: z.number().nullable().optional(),
    keys: z.object({
      p256dh: z
        .string()
        .regex(/^B[A-Za-z0-9_-]{86}=?$/, 'must be an uncompressed P-256 public key (65 bytes), base64url')
        .meta({ description: 'The browser’s ECDH public key, base64url' }),
      auth: z
        .string()
        .regex(/^[A-Za-z0-9_-]{22}(==)?$/, 'must be 16 bytes, base64url')
        .meta({ description: 'The authentication secret, base64url' }),
    }),
  })
  .meta({ id: 'PushSubscription' });
export type PushSubscription = z.infer<typeof PushSubscriptionSchema>;

export const PushUnsubscribeSchema = PushSubscriptionSchema.pick({ endpoint: true }).meta({ id: 'PushUnsubscribe' });
export type PushUnsubscribe = z.infer<typeof PushUnsubscribeSchema>;

export const PushPublicKeySchema = z
  .object({
    public_key: z.string().meta({
      description: 'The server’s VAPID public key (base64url): the `applicationServerKey` for `pushManager.subscribe`',
    }),
  })
  .meta({ id: 'PushPublicKey' });
export type PushPublicKey = z.infer<typeof PushPublicKeySchema>;

/** Sent (encrypted) to every subscription of the owner when a server task becomes final. */
export const PushMessageSchema = z
  .object({
    type: z.literal('task'),
    task: TaskSchema,
    detections_omitted: z.number().int().nonnegative().meta({
      description:
        'Detections left out (the lowest scores) to keep the message small; GET the task for all of them when not 0',
    }),
  })
  .meta({ id: 'PushMessage' });
export type PushMessage = z.infer<typeof PushMessageSchema>;

/** One model's share of the queue, as /stats reports it. */
export const ModelQueueStatsSchema = z
  .object({
    model: ModelIdSchema,
    waiting: z.number().int().nonnegative(),
    active: z.number().int().nonnegative(),
    delayed: z.number().int().nonnegative(),
    workers: z.number().int().nonnegative().meta({ description: 'Live workers that serve this model' }),
    mean_inference_ms: z.number().nonnegative().nullable(),
    estimated_wait_ms: z.number().nonnegative().nullable().meta({
      description:
        '(waiting + active + delayed) × mean_inference_ms / workers for this model; null when no live worker serves it (its tasks wait until one starts) or no samples yet',
    }),
    waiting_for_worker: z
      .boolean()
      .meta({ description: 'Tasks wait for this model and no live worker serves it: they run when one starts' }),
  })
  .meta({ id: 'ModelQueueStats' });
export type ModelQueueStats = z.infer<typeof ModelQueueStatsSchema>;

/** GET /api/v1/stats: how busy the server queue is, so a client can estimate its time to a result. */
export const StatsSchema = z
  .object({
    queue: z.object({
      waiting: z.number().int().nonnegative(),
      active: z.number().int().nonnegative(),
      delayed: z.number().int().nonnegative().meta({ description: 'Waiting for a retry (backoff)' }),
    }),
    workers: z.number().int().nonnegative().meta({ description: 'Workers alive (a heartbeat seen recently)' }),
    mean_inference_ms: z
      .number()
      .nonnegative()
      .nullable()
      .meta({ description: 'Mean inference time of the last (up to 100) tasks; null before any' }),
    estimated_wait_ms: z.number().nonnegative().nullable().meta({
      description:
        '(waiting + active + delayed) × mean_inference_ms / workers: a rough time to a new task’s result; null with no workers or no samples',
    }),
    models: z
      .array(ModelQueueStatsSchema)
      .optional()
      .meta({ description: 'The same per model (each model has its own queue and workers)' }),
  })
  .meta({ id: 'Stats' });
export type Stats = z.infer<typeof StatsSchema>;

// ---- Models (GET /models; server/models/) ----

export const ModelBackendStatsSchema = z
  .object({
    backend: z.string().meta({ example: 'wasm' }),
    mean_inference_ms: z.number().nonnegative(),
    samples: z.number().int().positive(),
  })
  .meta({ id: 'ModelBackendStats' });

export const ModelSummarySchema = z
  .object({
    id: ModelIdSchema,
    version: z.string(),
    name: z.string(),
    title: z.string(),
    default: z.boolean().meta({ description: 'The model a task runs when it names none' }),
    builtin: z.boolean(),
    labels: z.array(z.string()).meta({ description: 'Class names, by class id' }),
    input: ModelInputSchema,
    license: z.string(),
    source: z.string(),
    url: z.string().meta({
      description:
        'Where its files are served (the model’s JSON file is `url` + `manifest.model`), for running it on the device',
    }),
    manifest: ModelManifestSchema,
    workers: z.number().int().nonnegative().meta({ description: 'Live workers that serve it now' }),
    inference: z
      .array(ModelBackendStatsSchema)
      .meta({ description: 'Mean inference time measured by the workers on recent tasks, per TF.js backend' }),
  })
  .meta({ id: 'ModelSummary' });
export type ModelSummary = z.infer<typeof ModelSummarySchema>;

export const ModelListSchema = z
  .object({
    default: ModelIdSchema,
    items: z.array(ModelSummarySchema),
  })
  .meta({ id: 'ModelList' });
export type ModelList = z.infer<typeof ModelListSchema>;
export { ModelLabelsSchema };

// ---- Webhooks (server/webhooks/) ----

/**
 * What a webhook is about; the payload's `type`. A task's when it ends; an album's (batch's) final
 * event however it ends: `batch.completed` when its last photo is final (or every photo of an
 * upload was refused: `counts.rejected`), `batch.canceled` when canceled with photos left.
 */
export const WebhookEventTypeSchema = z
  .enum(['task.succeeded', 'task.failed', 'task.canceled', 'batch.completed', 'batch.canceled'])
  .meta({ id: 'WebhookEventType' });
export type WebhookEventType = z.infer<typeof WebhookEventTypeSchema>;

/**
 * The body POSTed to a callback URL (the Standard Webhooks payload shape: type, timestamp, data),
 * signed with the headers `webhook-id`, `webhook-timestamp` and `webhook-signature`.
 */
export const TaskWebhookSchema = z
  .object({
    type: WebhookEventTypeSchema,
    timestamp: z.iso.datetime().meta({ description: 'When the event happened (the task ended)' }),
    data: TaskSchema,
  })
  .meta({ id: 'TaskWebhook' });
export type TaskWebhook = z.infer<typeof TaskWebhookSchema>;

/** A callback URL as given: its shape only (the guarded client checks where it points). */
export const CallbackUrlSchema = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048)
  .meta({ description: 'Where the server POSTs when a task ends', example: 'https://example.com/hooks/twinlens' });

export const WebhookSettingsSchema = z
  .object({
    callback_url: CallbackUrlSchema.nullable().meta({
      description: 'The default callback URL for tasks sent without one; null: none',
    }),
    secret: z.string().meta({
      description:
        'The signing secret (`whsec_` + base64 of 24 random bytes), per user: HMAC-SHA256 key of the Standard Webhooks signature',
    }),
  })
  .meta({ id: 'WebhookSettings' });
export type WebhookSettings = z.infer<typeof WebhookSettingsSchema>;

export const WebhookSettingsUpdateSchema = z
  .object({ callback_url: CallbackUrlSchema.nullable() })
  .meta({ id: 'WebhookSettingsUpdate' });
export type WebhookSettingsUpdate = z.infer<typeof WebhookSettingsUpdateSchema>;

export const WebhookSecretSchema = z
  .object({ secret: z.string().meta({ description: 'The new signing secret; the old one stops at once' }) })
  .meta({ id: 'WebhookSecret' });

/** One attempt to deliver a webhook. */
export const WebhookDeliverySchema = z
  .object({
    time: z.iso.datetime().meta({ description: 'When the attempt started' }),
    attempt: z.number().int().positive(),
    url: z.string(),
    status_code: z.number().int().nullable().meta({ description: 'The receiver’s HTTP status; null when none came' }),
    error: z.enum(['refused', 'timeout', 'network']).nullable().meta({
      description:
        '`refused`: the URL or the address it resolved to is not allowed (https only, nothing inside the server’s network); `timeout`, `network`: no answer',
    }),
    message: z.string().nullable(),
    latency_ms: z.number().nonnegative(),
    type: WebhookEventTypeSchema.optional().meta({
      description: 'The event this attempt carried (an album’s log holds an event per ending)',
    }),
  })
  .meta({ id: 'WebhookDelivery' });
export type WebhookDelivery = z.infer<typeof WebhookDeliverySchema>;

/** A failed attempt, as the user's settings list it: which task or album it was for. */
export const WebhookFailureSchema = WebhookDeliverySchema.extend({
  subject_id: z
    .uuid()
    .meta({ description: 'The task or album (batch) the event was about; its log has every attempt' }),
  given_up: z.boolean().meta({ description: 'It was the last attempt: the event will not be delivered' }),
}).meta({ id: 'WebhookFailure' });
export type WebhookFailure = z.infer<typeof WebhookFailureSchema>;

/** GET /webhooks/settings: the settings and the latest failures, so that a broken receiver is seen. */
export const WebhookSettingsViewSchema = WebhookSettingsSchema.extend({
  recent_failures: z.array(WebhookFailureSchema).meta({
    description:
      'The latest failed delivery attempts of my webhooks, tasks and albums alike (at most 20, newest first): a receiver that answers an error, times out, or is refused at connection shows here',
  }),
}).meta({ id: 'WebhookSettingsView' });
export type WebhookSettingsView = z.infer<typeof WebhookSettingsViewSchema>;

export const WebhookDeliveryListSchema = z
  .object({
    state: z.enum(['none', 'pending', 'delivered', 'given_up']).meta({
      description:
        '`none`: no callback URL applied; `pending`: attempts go on (exponential backoff, about a day); `delivered`: a 2xx came; `given_up`: the last attempt failed',
    }),
    items: z.array(WebhookDeliverySchema).meta({ description: 'Attempts, oldest first' }),
  })
  .meta({ id: 'WebhookDeliveryList' });
export type WebhookDeliveryList = z.infer<typeof WebhookDeliveryListSchema>;
// ── Album jobs (batches): many photos as one job (server/batches/, server/routes/batches.ts) ──

export const BATCH_STATUSES = ['active', 'done', 'canceled'] as const;
export const BatchStatusSchema = z.enum(BATCH_STATUSES).meta({
  id: 'BatchStatus',
  description:
    '`active` while a task is queued or running (or none was accepted yet), `done` when all are final, `canceled` after a cancel (no more photos accepted)',
});
export type BatchStatus = z.infer<typeof BatchStatusSchema>;

/** A photo of an upload that never became a task: it failed the upload checks, alone. */
export const RejectedPhotoSchema = z
  .object({
    index: z
      .number()
      .int()
      .nonnegative()
      .meta({ description: 'Position among the `image` parts of its request (0-based)' }),
    filename: z.string().nullable().meta({
      description:
        'The file name the client sent, cleaned as a task’s `file_name` is (only echoed back, never used as a path)',
    }),
    error: ErrorInfoSchema,
  })
  .meta({ id: 'RejectedPhoto' });
export type RejectedPhoto = z.infer<typeof RejectedPhotoSchema>;

const count = z.number().int().nonnegative();
export const BatchCountsSchema = z
  .object({
    queued: count,
    running: count,
    succeeded: count,
    failed: count,
    canceled: count,
    rejected: count.meta({ description: 'Photos refused at upload (see `rejected`); they have no task' }),
  })
  .meta({ id: 'BatchCounts' });
export type BatchCounts = z.infer<typeof BatchCountsSchema>;

export const BatchSchema = z
  .object({
    batch_id: z.uuid(),
    status: BatchStatusSchema,
    created_at: z.iso.datetime(),
    params: DetectParamsSchema.meta({ description: 'Applied to every photo of the batch' }),
    total: count.meta({ description: 'Photos sent: tasks + rejected' }),
    counts: BatchCountsSchema,
    progress: z.number().min(0).max(1).meta({ description: 'Share of the photos that are final (or rejected)' }),
    estimated_remaining_ms: z.number().nonnegative().nullable().meta({
      description:
        '(interactive jobs waiting + this batch’s queued and running tasks) × mean_inference_ms / workers, from the figures of /stats; null with no workers, no samples, or nothing left',
    }),
    rejected: z.array(RejectedPhotoSchema),
  })
  .meta({ id: 'Batch' });
export type Batch = z.infer<typeof BatchSchema>;

/** The body POSTed when an album ends (signed like a task's): its summary as GET /batches/{id} gives it. */
export const BatchWebhookSchema = z
  .object({
    type: z.enum(['batch.completed', 'batch.canceled']),
    timestamp: z.iso.datetime().meta({ description: 'When the album ended' }),
    data: BatchSchema,
  })
  .meta({ id: 'BatchWebhook' });
export type BatchWebhook = z.infer<typeof BatchWebhookSchema>;

export const BatchDetailSchema = BatchSchema.extend({
  tasks: z.array(TaskSchema).meta({ description: 'A page of the batch’s tasks, in upload order' }),
  next_cursor: z
    .string()
    .nullable()
    .meta({ description: 'Pass as `cursor` for the next page of tasks; null at the end' }),
}).meta({ id: 'BatchDetail' });
export type BatchDetail = z.infer<typeof BatchDetailSchema>;

export const BatchUploadSchema = z
  .object({
    batch: BatchSchema,
    tasks: z.array(TaskSchema).meta({ description: 'The tasks this request made, in the order of its photos' }),
    rejected: z
      .array(RejectedPhotoSchema)
      .meta({ description: 'This request’s photos that were refused, each with its code' }),
  })
  .meta({ id: 'BatchUpload' });
export type BatchUpload = z.infer<typeof BatchUploadSchema>;

export const BatchListSchema = z
  .object({
    items: z.array(BatchSchema),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null at the end' }),
  })
  .meta({ id: 'BatchList' });
export type BatchList = z.infer<typeof BatchListSchema>;

export const EXPORT_FORMATS = ['json', 'coco', 'csv'] as const;
export const ExportFormatSchema = z.enum(EXPORT_FORMATS).meta({
  id: 'ExportFormat',
  description:
    '`json`: {tasks: Task[]}; `coco`: COCO detection results (images, annotations, categories); `csv`: one row per detection',
});
export type ExportFormat = z.infer<typeof ExportFormatSchema>;

// ── API keys (issue 23): programs authenticate with a key, people with a session ──

/**
 * What a key may do. Each API route that takes keys declares the one scope it needs beside its
 * OpenAPI description (server/routes/openapi-common.ts `scoped`); a route that declares none is
 * for sessions only (logins, key management, push subscriptions, the admin routes).
 */
export const API_KEY_SCOPES = ['tasks:read', 'tasks:write', 'webhooks:read', 'webhooks:write'] as const;
export const ApiKeyScopeSchema = z.enum(API_KEY_SCOPES).meta({
  id: 'ApiKeyScope',
  description:
    '`tasks:read`: read tasks and albums, their images, events, exports, deliveries and /stats; `tasks:write`: upload, cancel and delete tasks and albums; `webhooks:read`: the webhook settings; `webhooks:write`: change them and rotate the secret',
});
export type ApiKeyScope = z.infer<typeof ApiKeyScopeSchema>;

/** Every key starts with this, so that secret scanners and people recognise one. */
export const API_KEY_PREFIX = 'tlk_';
/** `tlk_` and 43 base64url characters (256 random bits). */
export const API_KEY_PATTERN = /^tlk_[A-Za-z0-9_-]{43}$/;

export const ApiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string().meta({ example: 'nightly import' }),
    scopes: z.array(ApiKeyScopeSchema),
    prefix: z.string().meta({
      description: 'The key’s first characters, to tell keys apart (the rest is never shown again)',
      example: 'tlk_Xa3k9Q',
    }),
    user_id: z.uuid(),
    username: z.string(),
    created_at: z.iso.datetime(),
    expires_at: z.iso.datetime().nullable().meta({ description: 'null: it does not expire' }),
    last_used_at: z.iso
      .datetime()
      .nullable()
      .meta({ description: 'When it last authenticated a request (kept to the minute); null: never' }),
  })
  .meta({ id: 'ApiKey' });
export type ApiKey = z.infer<typeof ApiKeySchema>;

export const ApiKeyListSchema = z.object({ items: z.array(ApiKeySchema) }).meta({ id: 'ApiKeyList' });
export type ApiKeyList = z.infer<typeof ApiKeyListSchema>;

export const ApiKeyCreateSchema = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(64)
      // Control characters would end up in terminals and tables that list keys.
      .regex(/^[^\p{Cc}]+$/u, 'no control characters')
      .meta({ example: 'nightly import' }),
    scopes: z
      .array(ApiKeyScopeSchema)
      .min(1)
      .refine((s) => new Set(s).size === s.length, 'each scope once')
      .meta({ example: ['tasks:read', 'tasks:write'] }),
    expires_at: z.iso
      .datetime({ offset: true })
      .nullable()
      .optional()
      .meta({ description: 'When it stops working (in the future); absent or null: never' }),
  })
  .meta({ id: 'ApiKeyCreate' });
export type ApiKeyCreate = z.infer<typeof ApiKeyCreateSchema>;

export const ApiKeyCreatedSchema = ApiKeySchema.extend({
  secret: z.string().meta({
    description:
      'The key itself: shown this once (only its hash is kept). Send it as `Authorization: Bearer …` or `X-API-Key`.',
    example: 'tlk_Xa3k9Q…',
  }),
}).meta({ id: 'ApiKeyCreated' });
export type ApiKeyCreated = z.infer<typeof ApiKeyCreatedSchema>;
