/** Where services read the time: tests give a clock they move by hand (due dates, quiet hours, digests). */
export interface Clock {
	now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that stands still until told to move. */
export class ManualClock implements Clock {
	constructor(private time: number = Date.now()) {}

	now(): number {
		return this.time;
	}

	set(time: number | Date | string): void {
		this.time = new Date(time).getTime();
	}

	advance(ms: number): void {
		this.time += ms;
	}
}
