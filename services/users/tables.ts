import { DataTypes, type Model, type ModelStatic, type Optional, type Sequelize } from "sequelize";

export interface UserRow {
	id: number;
	username: string;
	displayName: string;
	emailCiphertext: string;
	emailIndex: string;
	passwordHash: string;
	/** Comma-separated roles, e.g. `admin` or `member`. */
	roles: string;
	/** Failed sign-ins in a row, when the last was, and until when the next attempt is refused. */
	failedLogins: number;
	lastFailedLoginAt: Date | null;
	loginBlockedUntil: Date | null;
	createdAt: Date;
	updatedAt: Date;
}

export interface RefreshTokenRow {
	id: number;
	userId: number;
	familyId: string;
	tokenHash: string;
	expiresAt: Date;
	usedAt: Date | null;
	revokedAt: Date | null;
	/** The access token issued together with this refresh token. */
	accessTokenId: string | null;
	accessExpiresAt: Date | null;
	/** The request that rotated this token: the same request retried gets `successorSealed` back. */
	claimRequestId: string | null;
	/** The token pair that replaced this one, sealed with a key only this token's holder can derive. */
	successorSealed: string | null;
	createdAt: Date;
}

/** One row, id 1, claimed by the first account ever registered: that account is the admin. */
export interface FirstAdminRow {
	id: number;
	userId: number;
}

type UserModel = Model<UserRow, Optional<UserRow, "id" | "failedLogins" | "lastFailedLoginAt" | "loginBlockedUntil" | "createdAt" | "updatedAt">>;
type RefreshTokenModel = Model<
	RefreshTokenRow,
	Optional<RefreshTokenRow, "id" | "usedAt" | "revokedAt" | "accessTokenId" | "accessExpiresAt" | "claimRequestId" | "successorSealed" | "createdAt">
>;
type FirstAdminModel = Model<FirstAdminRow, FirstAdminRow>;

export interface SessionRevocationRow {
	id: number;
	sessionId: string;
	userId: number;
	/** When the last access token the session could have issued expires: the row matters until then. */
	expiresAt: Date;
	reason: string;
	createdAt: Date;
}
export interface AiPolicyRow {
	role: string;
	/** The role's AiRolePolicy, as JSON. */
	policy: string;
	updatedBy: number;
	updatedAt: Date;
}
type AiPolicyModel = Model<AiPolicyRow, Optional<AiPolicyRow, "updatedAt">>;

type SessionRevocationModel = Model<SessionRevocationRow, Optional<SessionRevocationRow, "id" | "createdAt">>;

export interface UsersTables {
	users: ModelStatic<UserModel>;
	refreshTokens: ModelStatic<RefreshTokenModel>;
	firstAdmin: ModelStatic<FirstAdminModel>;
	sessionRevocations: ModelStatic<SessionRevocationModel>;
	aiPolicies: ModelStatic<AiPolicyModel>;
}

export function defineUsersTables(db: Sequelize): UsersTables {
	return {
		users: db.define<UserModel, Omit<UserRow, "createdAt" | "updatedAt">>(
			"user",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				username: { type: DataTypes.STRING(32), allowNull: false },
				displayName: { type: DataTypes.STRING(64), allowNull: false },
				emailCiphertext: { type: DataTypes.STRING(512), allowNull: false },
				emailIndex: { type: DataTypes.STRING(64), allowNull: false },
				passwordHash: { type: DataTypes.STRING(255), allowNull: false },
				roles: { type: DataTypes.STRING(64), allowNull: false },
				failedLogins: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
				lastFailedLoginAt: { type: DataTypes.DATE, allowNull: true },
				loginBlockedUntil: { type: DataTypes.DATE, allowNull: true },
			},
			{ tableName: "users" },
		),
		refreshTokens: db.define<RefreshTokenModel, Omit<RefreshTokenRow, "createdAt">>(
			"refreshToken",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				userId: { type: DataTypes.INTEGER, allowNull: false },
				familyId: { type: DataTypes.STRING(36), allowNull: false },
				tokenHash: { type: DataTypes.STRING(64), allowNull: false },
				expiresAt: { type: DataTypes.DATE, allowNull: false },
				usedAt: { type: DataTypes.DATE, allowNull: true },
				revokedAt: { type: DataTypes.DATE, allowNull: true },
				accessTokenId: { type: DataTypes.STRING(36), allowNull: true },
				accessExpiresAt: { type: DataTypes.DATE, allowNull: true },
				claimRequestId: { type: DataTypes.STRING(128), allowNull: true },
				successorSealed: { type: DataTypes.TEXT, allowNull: true },
			},
			{ tableName: "refresh_tokens", updatedAt: false },
		),
		firstAdmin: db.define<FirstAdminModel>(
			"firstAdmin",
			{
				id: { type: DataTypes.INTEGER, primaryKey: true },
				userId: { type: DataTypes.INTEGER, allowNull: false },
			},
			{ tableName: "first_admin", timestamps: false },
		),
		sessionRevocations: db.define<SessionRevocationModel, Omit<SessionRevocationRow, "createdAt">>(
			"sessionRevocation",
			{
				id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
				sessionId: { type: DataTypes.STRING(64), allowNull: false },
				userId: { type: DataTypes.INTEGER, allowNull: false },
				expiresAt: { type: DataTypes.DATE, allowNull: false },
				reason: { type: DataTypes.STRING(200), allowNull: false },
			},
			{ tableName: "session_revocations", updatedAt: false },
		),
		aiPolicies: db.define<AiPolicyModel, Omit<AiPolicyRow, "updatedAt">>(
			"aiPolicy",
			{
				role: { type: DataTypes.STRING(16), primaryKey: true },
				policy: { type: DataTypes.TEXT, allowNull: false },
				updatedBy: { type: DataTypes.INTEGER, allowNull: false },
			},
			{ tableName: "ai_policies", createdAt: false },
		),
	};
}
