/** Server-wide counters for INFO stats, and the instantaneous ops/s sampler (Redis's trackInstantaneousMetric). */
export class ServerStats {
  totalConnections = 0;
  rejectedConnections = 0;
  totalCommands = 0;
  netInputBytes = 0;
  errorReplies = 0;
  rejectedCalls = 0;
  /** Ring of ops/s samples (Redis keeps 16). */
  private samples = new Float64Array(16);
  private sampleIdx = 0;
  private lastSampleTime = 0;
  private lastSampleCount = 0;

  sampleOps(nowMs: number): void {
    if (this.lastSampleTime !== 0 && nowMs > this.lastSampleTime) {
      const ops = ((this.totalCommands - this.lastSampleCount) * 1000) / (nowMs - this.lastSampleTime);
      this.samples[this.sampleIdx] = ops;
      this.sampleIdx = (this.sampleIdx + 1) % this.samples.length;
    }
    this.lastSampleTime = nowMs;
    this.lastSampleCount = this.totalCommands;
  }

  instantaneousOps(): number {
    let sum = 0;
    for (let i = 0; i < this.samples.length; i++) sum += this.samples[i];
    return Math.round(sum / this.samples.length);
  }

  reset(): void {
    this.totalConnections = 0;
    this.rejectedConnections = 0;
    this.totalCommands = 0;
    this.netInputBytes = 0;
    this.errorReplies = 0;
    this.rejectedCalls = 0;
    this.samples.fill(0);
  }
}
