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

