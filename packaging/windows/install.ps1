<#
.SYNOPSIS
Installs or upgrades mcpwarden-agent on Windows as a scheduled task that runs as SYSTEM at
startup, for every user of the machine.

.EXAMPLE
powershell -ExecutionPolicy Bypass -File .\install.ps1 -Url https://mcpwarden.example.com -Secret SECRET

The configuration, %ProgramData%\mcpwarden\agent.json, is kept across upgrades; -Url and
-Secret write it, with key_file %ProgramData%\mcpwarden\agent.key (an MDM or Intune can push
the file instead: {"url": "...", "enrollment_secret": "...", "key_file": "C:\\ProgramData\\mcpwarden\\agent.key"}).
Run as Administrator.
#>
param(
    [string]$Url = "",
    [string]$Secret = ""
)
$ErrorActionPreference = "Stop"

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw "Run install.ps1 as Administrator."
}

$taskName = "mcpwarden-agent"
$installDir = Join-Path $env:ProgramFiles "mcpwarden"
$exe = Join-Path $installDir "mcpwarden-agent.exe"
$configDir = Join-Path $env:ProgramData "mcpwarden"
$config = Join-Path $configDir "agent.json"

if (Get-ScheduledTask -TaskName $taskName -ErrorAction SilentlyContinue) {
    Stop-ScheduledTask -TaskName $taskName -ErrorAction SilentlyContinue
    Get-Process mcpwarden-agent -ErrorAction SilentlyContinue | Stop-Process -Force
}

New-Item -ItemType Directory -Force -Path $installDir, $configDir | Out-Null
Copy-Item -Force (Join-Path $PSScriptRoot "mcpwarden-agent.exe") $exe

# The key the agent receives at enrolment is kept beside the configuration (SYSTEM's own
# profile would be the default), where -Purge in uninstall.ps1 finds it.
$keyFile = Join-Path $configDir "agent.key"
if ($Url -or $Secret -or -not (Test-Path $config)) {
    [ordered]@{ url = $Url; enrollment_secret = $Secret; key_file = $keyFile } | ConvertTo-Json -Compress |
        Set-Content -Encoding ASCII -Path $config
}
# The enrolment secret and the agent's key: SYSTEM and Administrators only.
icacls $configDir /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F" | Out-Null
icacls $config /inheritance:r /grant:r "*S-1-5-18:F" "*S-1-5-32-544:F" | Out-Null

$action = New-ScheduledTaskAction -Execute $exe -Argument "run --all-users --config `"$config`""
$trigger = New-ScheduledTaskTrigger -AtStartup
$settings = New-ScheduledTaskSettingsSet -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) `
    -ExecutionTimeLimit ([TimeSpan]::Zero) -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
$task = New-ScheduledTaskPrincipal -UserId "SYSTEM" -LogonType ServiceAccount -RunLevel Highest
Register-ScheduledTask -Force -TaskName $taskName -Action $action -Trigger $trigger -Settings $settings -Principal $task `
    -Description "mcpwarden agent: reports the MCP servers configured on this machine" | Out-Null

$version = & $exe version
Write-Output "$version installed in $installDir as the scheduled task $taskName"
if ((Get-Content -Raw $config) -match '"url":\s*""') {
    Write-Output "Set url and enrollment_secret in $config, then: Start-ScheduledTask -TaskName $taskName"
} else {
    Start-ScheduledTask -TaskName $taskName
}
