/**
 * A progress bar for the CLI: done/total, rate and time left, redrawn in place on a terminal; on
 * anything else (a log file, CI) a plain line every few seconds instead of control characters.
 */
export class Progress {
  private doneCount = 0;
  private readonly started = Date.now();
  private lastLine = 0;
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream,
    private readonly everyMs = 3000,
  ) {
    this.tty = out.isTTY === true;
  }

  tick(): void {
    this.doneCount++;
    this.draw(false);
  }

  /** A message above the bar. */
  note(text: string): void {
    if (this.tty) this.out.write('\r\x1b[2K');
    this.out.write(`${text}\n`);
    this.draw(true);
  }

  done(): void {
    this.draw(true);
    if (this.tty) this.out.write('\n');
  }

  line(): string {
    const seconds = (Date.now() - this.started) / 1000;
    const rate = seconds > 0 ? this.doneCount / seconds : 0;
    const left = rate > 0 ? (this.total - this.doneCount) / rate : Number.NaN;
    const eta = Number.isFinite(left) ? `ETA ${formatSeconds(left)}` : 'ETA ?';
    return `${this.doneCount}/${this.total}  ${rate.toFixed(1)}/s  ${eta}`;
  }

  private draw(force: boolean): void {
    if (this.tty) {
      const width = 30;
      const filled = this.total ? Math.round((width * this.doneCount) / this.total) : width;
      this.out.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.line()}`);
      return;
    }
    const now = Date.now();
    if (force || now - this.lastLine >= this.everyMs || this.doneCount === this.total) {
      this.lastLine = now;
      this.out.write(`${this.line()}\n`);
    }
  }
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
