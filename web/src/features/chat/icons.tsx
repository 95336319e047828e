import type { ReactNode } from "react";

/** Small line icons, always decorative: whatever shows one names its purpose in words. */
function Icon({ size = 16, children }: { size?: number; children: ReactNode }) {
	return (
		<svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
			{children}
		</svg>
	);
}

export const HashIcon = ({ size }: { size?: number }) => (
	<Icon size={size}>
		<path d="M5 9h14M5 15h14M11 4 7 20M17 4l-4 16" />
	</Icon>
);

export const LockIcon = ({ size }: { size?: number }) => (
	<Icon size={size}>
		<rect x="5" y="11" width="14" height="10" rx="2" />
		<path d="M8 11V7a4 4 0 0 1 8 0v4" />
	</Icon>
);

export const PlusIcon = ({ size }: { size?: number }) => (
	<Icon size={size}>
		<path d="M12 5v14M5 12h14" />
	</Icon>
);

export const SmileIcon = ({ size }: { size?: number }) => (
	<Icon size={size}>
		<circle cx="12" cy="12" r="9" />
		<path d="M9 10h.01M15 10h.01M8.5 14.5a4.5 4.5 0 0 0 7 0" />
	</Icon>
);

export const DotsIcon = ({ size }: { size?: number }) => (
	<Icon size={size}>
		<path d="M5 12h.01M12 12h.01M19 12h.01" />
	</Icon>
);

export const CloseIcon = ({ size }: { size?: number }) => (
	<Icon size={size}>
		<path d="M6 6l12 12M18 6 6 18" />
	</Icon>
);

export const ReplyIcon = ({ size }: { size?: number }) => (
	<Icon size={size}>
		<path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1.1-4.6A8 8 0 1 1 21 12z" />
	</Icon>
);
