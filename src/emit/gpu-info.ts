/**
 * GPUs of the training host, as `nvidia-smi` reports them.
 *
 * Owns: the query we run (`nvidia-smi --query-gpu=name,driver_version,memory.total,pci.bus_id,uuid,
 * compute_cap --format=csv`), parsing its CSV output (header with units, `, `-separated fields), and
 * running it with a deadline, and the CUDA version from plain `nvidia-smi`'s banner. No `nvidia-smi` on the PATH, a failure or a timeout mean "no GPU
 * information" (an empty list), never a failed training run.
 */
import { execFile } from 'node:child_process';

export const NVIDIA_SMI_QUERY = ['--query-gpu=name,driver_version,memory.total,pci.bus_id,uuid,compute_cap', '--format=csv'] as const;

export interface GpuInfo {
  readonly name: string;
  readonly driverVersion: string;
  /** As reported, with its unit (e.g. `143771 MiB`). */
  readonly memoryTotal: string;
  readonly pciBusId: string;
  readonly uuid: string;
  readonly computeCapability: string;
}

const COLUMNS: ReadonlyArray<[string, keyof GpuInfo]> = [
  ['name', 'name'],
  ['driver_version', 'driverVersion'],
  ['memory.total', 'memoryTotal'],
  ['pci.bus_id', 'pciBusId'],
  ['uuid', 'uuid'],
  ['compute_cap', 'computeCapability'],
];

/** Parse `nvidia-smi --query-gpu=… --format=csv` output; columns are matched by header name. */
export function parseNvidiaSmiCsv(text: string): GpuInfo[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length === 0) return [];
  const header = lines[0]!.split(',').map((h) => h.trim().replace(/\s*\[.*\]$/, ''));
  const index = COLUMNS.map(([column]) => header.indexOf(column));
  return lines.slice(1).flatMap((line) => {
    const fields = line.split(', ').map((f) => f.trim());
    if (fields.length !== header.length) return [];
    const gpu: Record<string, string> = {};
    COLUMNS.forEach(([, key], i) => {
      gpu[key] = index[i]! >= 0 ? fields[index[i]!]! : '';
    });
    return [gpu as unknown as GpuInfo];
  });
}

/** Run `nvidia-smi` (or `binary`) with a deadline; [] when absent or failing. */
export function queryGpus(binary = 'nvidia-smi', timeoutMs = 5000): Promise<GpuInfo[]> {
  return new Promise((resolve) => {
    execFile(binary, [...NVIDIA_SMI_QUERY], { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      resolve(err === null ? parseNvidiaSmiCsv(stdout) : []);
    });
  });
}

/** The CUDA version the driver supports, from the banner of plain `nvidia-smi` (`CUDA Version: 13.0`). */
export function parseCudaVersion(text: string): string | undefined {
  return /CUDA Version:\s*([0-9][0-9.]*)/.exec(text)?.[1];
}

/** Run plain `nvidia-smi` (or `binary`) and read its CUDA version; undefined when absent or failing. */
export function queryCudaVersion(binary = 'nvidia-smi', timeoutMs = 5000): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(binary, [], { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      resolve(err === null ? parseCudaVersion(stdout) : undefined);
    });
  });
}
