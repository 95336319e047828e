/** A vector as the bytes databases and Redis keep: 32-bit floats, little-endian (what RediSearch's FLOAT32 reads). */
export function toFloat32Blob(vector: ArrayLike<number>): Buffer {
	const blob = Buffer.alloc(vector.length * 4);
	for (let i = 0; i < vector.length; i++) blob.writeFloatLE(vector[i], i * 4);
	return blob;
}

export function fromFloat32Blob(blob: Uint8Array): Float32Array {
	const bytes = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
	const vector = new Float32Array(bytes.length / 4);
	for (let i = 0; i < vector.length; i++) vector[i] = bytes.readFloatLE(i * 4);
	return vector;
}
