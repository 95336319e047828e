import { DataTypes, type Model, type ModelStatic, type Optional, type Sequelize } from "sequelize";

export type ChunkSource = "document" | "channel";

export interface DocumentRow {
	id: number;
	/** AES-256-GCM sealed title and text. */
	titleSealed: string;
	textSealed: string;
	keyId: string;
	/** Only this channel's readers may read the document; null: anyone with `knowledge:read`. */
	channelId: number | null;
	chunkCount: number;
	createdBy: number;
	createdAt: Date;
	updatedAt: Date;
}

export interface ChunkRow {
	id: number;
	source: ChunkSource;
	documentId: number | null;
	/** The document's channel, or the channel of the message: who may read the chunk. */
	channelId: number | null;
	messageId: number | null;
	position: number;
	/** Sealed text, and the sealed headings above it (JSON array), associated with the document or message. */
	body: string;
	headingsSealed: string | null;
	/** Keyed hash of the text: a message edited into the same text (or only reacted to) is not embedded again. */
	digest: string;
	keyId: string;
	/** The embedding model that made `vector`: vectors of different models are never compared. */
	model: string;
	dimension: number;
	/** Float32, little-endian. */
	vector: Buffer;
	createdAt: Date;
}

type DocumentModel = Model<DocumentRow, Optional<DocumentRow, "id" | "createdAt" | "updatedAt">>;
type ChunkModel = Model<ChunkRow, Optional<ChunkRow, "id" | "createdAt">>;

export interface KnowledgeTables {
	documents: ModelStatic<DocumentModel>;
	chunks: ModelStatic<ChunkModel>;
}

export function defineKnowledgeTables(db: Sequelize): KnowledgeTables {
	return {
		documents: db.define<DocumentModel, Omit<DocumentRow, "createdAt" | "updatedAt">>(
			"knowledgeDocument",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				titleSealed: { type: DataTypes.TEXT, allowNull: false },
				textSealed: { type: DataTypes.TEXT, allowNull: false },
				keyId: { type: DataTypes.STRING(16), allowNull: false },
				channelId: { type: DataTypes.INTEGER, allowNull: true },
				chunkCount: { type: DataTypes.INTEGER, allowNull: false },
				createdBy: { type: DataTypes.INTEGER, allowNull: false },
			},
			{ tableName: "knowledge_documents" },
		),
		chunks: db.define<ChunkModel, Omit<ChunkRow, "createdAt">>(
			"knowledgeChunk",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				source: { type: DataTypes.STRING(16), allowNull: false },
				documentId: { type: DataTypes.INTEGER, allowNull: true },
				channelId: { type: DataTypes.INTEGER, allowNull: true },
				messageId: { type: DataTypes.INTEGER, allowNull: true },
				position: { type: DataTypes.INTEGER, allowNull: false },
				body: { type: DataTypes.TEXT, allowNull: false },
				headingsSealed: { type: DataTypes.TEXT, allowNull: true },
				digest: { type: DataTypes.STRING(64), allowNull: false },
				keyId: { type: DataTypes.STRING(16), allowNull: false },
				model: { type: DataTypes.STRING(200), allowNull: false },
				dimension: { type: DataTypes.INTEGER, allowNull: false },
				vector: { type: DataTypes.BLOB, allowNull: false },
			},
			{ tableName: "knowledge_chunks", updatedAt: false },
		),
	};
}
