import { execFile } from "node:child_process";

export interface GpuReading {
	name: string;
	memoryUsedMb: number;
	memoryTotalMb: number;
	utilizationPercent: number;
}

/**
 * The GPUs of this machine as `nvidia-smi` reports them; undefined where there is no nvidia-smi (or it fails),
 * which is most machines that are not GPU hosts.
 */
export function readGpus(timeoutMs = 2_000): Promise<GpuReading[] | undefined> {
	return new Promise((resolve) => {
		execFile(
			"nvidia-smi",
			["--query-gpu=name,memory.used,memory.total,utilization.gpu", "--format=csv,noheader,nounits"],
			{ timeout: timeoutMs },
			(err, stdout) => {
				if (err) return resolve(undefined);
				resolve(parseNvidiaSmi(stdout));
			},
		);
	});
}

export function parseNvidiaSmi(csv: string): GpuReading[] {
	return csv
		.split("\n")
		.map((line) => line.split(",").map((field) => field.trim()))
		.filter((fields) => fields.length === 4 && fields[0] !== "")
		.map(([name, used, total, utilization]) => ({
			name,
			memoryUsedMb: Number(used),
			memoryTotalMb: Number(total),
			utilizationPercent: Number(utilization),
		}));
}
