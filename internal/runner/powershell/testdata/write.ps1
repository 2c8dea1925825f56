# Stead: write file. Write the content to the path (relative to the profile) under a temporary name, then rename it into place; print the absolute path.
param([string]$ParamsB64)
$ErrorActionPreference = 'Stop'
$p = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($ParamsB64)) | ConvertFrom-Json
$runs = Join-Path $env:ProgramData 'Stead\runs'
$d = Join-Path $runs $p.runId
$out = [Console]::OpenStandardOutput()
$err = [Console]::OpenStandardError()

function Send-Text([string]$s) {
	$b = [Text.Encoding]::UTF8.GetBytes($s)
	$out.Write($b, 0, $b.Length)
}

# Copy-Head copies the first $limit bytes of a file to a stream.
function Copy-Head([string]$path, [long]$limit, $to) {
	if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { return }
	$f = [IO.File]::Open($path, 'Open', 'Read', 'ReadWrite')
	try {
		$buf = New-Object byte[] 65536
		$left = $limit
		while ($left -gt 0) {
			$n = $f.Read($buf, 0, [int][Math]::Min($buf.Length, $left))
			if ($n -le 0) { break }
			$to.Write($buf, 0, $n)
			$left -= $n
		}
	} finally { $f.Close() }
}

function Get-Size([string]$path) {
	if (Test-Path -LiteralPath $path -PathType Leaf) { return (Get-Item -LiteralPath $path).Length }
	return 0
}

$path = [string]$p.path
if (-not [IO.Path]::IsPathRooted($path)) { $path = Join-Path $env:USERPROFILE $path }
$dir = Split-Path -Parent $path
New-Item -ItemType Directory -Force -Path $dir | Out-Null
$tmp = Join-Path $dir ('.' + (Split-Path -Leaf $path) + '.stead-' + [guid]::NewGuid().ToString('N'))
try {
	[IO.File]::WriteAllBytes($tmp, [Convert]::FromBase64String([string]$p.content))
	Move-Item -LiteralPath $tmp -Destination $path -Force
} catch {
	Remove-Item -LiteralPath $tmp -Force -ErrorAction SilentlyContinue
	throw
}
Send-Text $path
$out.Flush()
