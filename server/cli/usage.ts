/** The detect command's usage, printed without loading the detector. */
export const DETECT_USAGE = `usage: twinlens detect <files or folders…> (--server URL | --local) [options]
  --server URL        a Twinlens server; authenticated by an API key (TWINLENS_API_KEY or --api-key),
                      a session token (--token, TWINLENS_TOKEN), or --user with a password prompt
  --local             run the detector in this process instead (no server, same results)
  --out FILE          results file: .json (COCO) or .csv (default twinlens-results.json)
  --format coco|csv   instead of guessing from --out's extension
  --annotated DIR     also write each photo with its boxes drawn (JPEG)
  --concurrency N     photos in flight at once (default 4)
  --min-score X       keep detections scoring at least X (default 0.3)
  --model ID          the model to run (twinlens models list; default: the server's default)`;
