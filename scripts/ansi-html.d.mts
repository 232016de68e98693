export function screenToHtml(captured: string, opts: { cols: number; rows: number; title?: string; theme?: { fg: string; bg: string } }): string;
